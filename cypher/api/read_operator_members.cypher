// A page of each operator's accounts in the current run (by account_id, after k.after), with the total.
// One statement for every operator of the request; $limit is first + 1 (the extra row says there is a next page).
UNWIND $keys AS k
MATCH (o:Operator {operator_id: k.operator_id})
OPTIONAL MATCH (run:AttributionRun {current: true})
CALL (o, run, k) {
    MATCH (o)<-[r:ATTRIBUTED_TO]-(a:Account)
    WHERE r.run_id = run.run_id AND (k.after IS NULL OR a.account_id > k.after)
    WITH a, r ORDER BY a.account_id LIMIT $limit
    RETURN collect({account_id: a.account_id, confidence: r.confidence, provisional: coalesce(r.provisional, false)}) AS page
}
RETURN k.operator_id AS operator_id, k.after AS after, page,
       COUNT { (o)<-[r:ATTRIBUTED_TO]-(:Account) WHERE r.run_id = run.run_id } AS total
