// The current run's hypotheses naming each organisation: asserted ones first, then by score.
UNWIND $ids AS id
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator)-[h:LIKELY_RUN_BY]->(:Organisation {org_id: id})
WHERE h.run_id = run.run_id
WITH id, o, h ORDER BY coalesce(h.asserted, false) DESC, h.score DESC, o.operator_id
RETURN id AS org_id,
       collect({operator_id: o.operator_id, org_id: id, run_id: h.run_id, score: h.score, probability: h.probability,
                rank: h.rank, asserted: coalesce(h.asserted, false), decision: h.decision,
                evidence_json: h.evidence_json}) AS items
