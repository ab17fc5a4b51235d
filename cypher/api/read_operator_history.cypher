// Each operator's scores in every run it was part of, newest run first.
UNWIND $ids AS id
MATCH (o:Operator {operator_id: id})-[s:SCORED_IN]->(run:AttributionRun)
RETURN id AS operator_id, run.run_id AS run_id, run.started_at.epochMillis AS started_at,
       s.size AS size, s.campaign_score AS campaign_score, s.flagged AS flagged, s.label AS label
ORDER BY operator_id, started_at DESC
