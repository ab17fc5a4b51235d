// Organisation hypotheses of the current run with their evidence (the evaluation scores them against truth
// and checks every hypothesis names the accounts and identifiers behind it).
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator)-[h:LIKELY_RUN_BY]->(g:Organisation)
WHERE h.run_id = run.run_id
RETURN o.operator_id AS operator_id, g.org_id AS org_id, g.name AS name, g.confirmed AS confirmed,
       h.rank AS rank, h.score AS score, h.probability AS probability, h.asserted AS asserted,
       h.decision AS decision, h.evidence_json AS evidence_json
ORDER BY operator_id, rank
