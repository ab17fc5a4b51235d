MATCH (o:Operator)-[s:SCORED_IN]->(:AttributionRun {run_id: $run_id})
WHERE s.flagged
RETURN o.operator_id AS operator_id, s.size AS size, s.campaign_score AS campaign_score
