// A page of each organisation's accounts: the current run's members of the operators it is asserted
// to run (by account_id, after k.after), with the total. $limit is first + 1.
UNWIND $keys AS k
OPTIONAL MATCH (run:AttributionRun {current: true})
CALL (run, k) {
    MATCH (:Organisation {org_id: k.org_id})<-[h:LIKELY_RUN_BY]-(o:Operator)<-[r:ATTRIBUTED_TO]-(a:Account)
    WHERE h.run_id = run.run_id AND h.asserted AND r.run_id = run.run_id AND (k.after IS NULL OR a.account_id > k.after)
    WITH a, r, o ORDER BY a.account_id LIMIT $limit
    RETURN collect({account_id: a.account_id, operator_id: o.operator_id, confidence: r.confidence,
                    provisional: coalesce(r.provisional, false)}) AS page
}
CALL (run, k) {
    MATCH (:Organisation {org_id: k.org_id})<-[h:LIKELY_RUN_BY]-(:Operator)<-[r:ATTRIBUTED_TO]-(:Account)
    WHERE h.run_id = run.run_id AND h.asserted AND r.run_id = run.run_id
    RETURN count(r) AS total
}
RETURN k.org_id AS org_id, k.after AS after, page, total
