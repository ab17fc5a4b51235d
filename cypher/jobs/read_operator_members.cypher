// Members the run itself placed with an operator (provisional ones excluded).
MATCH (o:Operator {operator_id: $operator_id})<-[r:ATTRIBUTED_TO {run_id: $run_id}]-(a:Account)
WHERE NOT coalesce(r.provisional, false)
RETURN a.account_id AS account_id
