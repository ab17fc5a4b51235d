// The contract's export: accounts placed with an operator by the current run, and the organisation
// the run asserted runs that operator (empty when unattributed).
MATCH (run:AttributionRun {current: true})
MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator)
WHERE r.run_id = run.run_id
MATCH (o)-[s:SCORED_IN]->(run)
OPTIONAL MATCH (o)-[h:LIKELY_RUN_BY {run_id: run.run_id, asserted: true}]->(g:Organisation)
RETURN a.account_id AS account_id, o.operator_id AS operator_id,
       coalesce(o.analyst_label, s.label, '') AS operator_label,
       r.confidence AS confidence, s.campaign_score AS campaign_score, s.flagged AS flagged,
       coalesce(g.org_id, '') AS organisation_id
ORDER BY account_id
