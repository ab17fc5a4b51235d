// Case file members: every account the current run placed with the operator (provisional ones included),
// with what the members table and the creation-burst chart show.
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator {operator_id: $id})<-[r:ATTRIBUTED_TO]-(a:Account)
WHERE r.run_id = run.run_id
RETURN a.account_id AS account_id, r.confidence AS confidence, coalesce(r.provisional, false) AS provisional,
       a.created_at.epochMillis AS created_at, a.status AS status, a.country AS country,
       coalesce(a.n_interactions, 0) AS n_interactions
ORDER BY a.account_id
