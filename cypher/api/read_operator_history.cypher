// Each operator's scores in every run it was part of, newest run first.
UNWIND $ids AS id
MATCH (o:Operator {operator_id: id})-[s:SCORED_IN]->(run:AttributionRun)
WITH id, s, run ORDER BY run.started_at DESC
RETURN id AS operator_id,
       collect({run_id: run.run_id, started_at: run.started_at.epochMillis, size: s.size,
                campaign_score: s.campaign_score, flagged: s.flagged, label: s.label}) AS items
