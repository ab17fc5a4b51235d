// account -> operator of one run (history as well as the current run).
MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator)
WHERE r.run_id = $run_id
RETURN a.account_id AS account_id, o.operator_id AS operator_id
