// Every member of each operator in the current run (for the timeline, which the columnar store answers).
UNWIND $ids AS id
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator {operator_id: id})<-[r:ATTRIBUTED_TO]-(a:Account)
WHERE r.run_id = run.run_id
RETURN id AS operator_id, collect(a.account_id) AS members
