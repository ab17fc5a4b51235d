// Bloom: "accounts of operator $id". The operator and the accounts the current run placed
// with it (provisional ones from incremental attribution included: see the relationship).
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator {operator_id: $id})<-[r:ATTRIBUTED_TO]-(a:Account)
WHERE r.run_id = run.run_id
RETURN o, r, a
