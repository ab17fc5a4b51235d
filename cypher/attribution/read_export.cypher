// The contract's export: accounts placed with an operator by the current run.
MATCH (run:AttributionRun {current: true})
MATCH (a:Account)-[r:ATTRIBUTED_TO]->(o:Operator)
WHERE r.run_id = run.run_id
MATCH (o)-[s:SCORED_IN]->(run)
RETURN a.account_id AS account_id, o.operator_id AS operator_id,
       coalesce(o.analyst_label, s.label, '') AS operator_label,
       r.confidence AS confidence, s.campaign_score AS campaign_score, s.flagged AS flagged
ORDER BY account_id
