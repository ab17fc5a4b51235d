// Each operator's organisation hypotheses in the current run, best first (rank 1 is the strongest;
// `asserted` marks the one attribution names, none when the operator is unattributed).
UNWIND $ids AS id
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator {operator_id: id})-[h:LIKELY_RUN_BY]->(g:Organisation)
WHERE h.run_id = run.run_id
WITH id, h, g ORDER BY h.rank
RETURN id AS operator_id,
       collect({operator_id: id, org_id: g.org_id, run_id: h.run_id, score: h.score, probability: h.probability,
                rank: h.rank, asserted: coalesce(h.asserted, false), decision: h.decision,
                evidence_json: h.evidence_json}) AS items
