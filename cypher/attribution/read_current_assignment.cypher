// Members of each operator in the current (last complete) run.
MATCH (run:AttributionRun {current: true})
MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator)
WHERE r.run_id = run.run_id
RETURN o.operator_id AS operator_id, collect(a.account_id) AS members
