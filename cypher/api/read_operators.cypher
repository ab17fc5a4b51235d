// Operators by id; `in_current_run` is true for operators scored in the current run (the others are retired).
UNWIND $ids AS id
MATCH (o:Operator {operator_id: id})
OPTIONAL MATCH (o)-[s:SCORED_IN]->(:AttributionRun {current: true})
RETURN o.operator_id AS operator_id, o.label AS label, coalesce(o.label_conflict, []) AS label_conflict,
       o.analyst_label AS analyst_label, coalesce(o.size, 0) AS size, coalesce(o.campaign_score, 0.0) AS campaign_score,
       coalesce(o.flagged, false) AS flagged, o.features_json AS features_json, o.evidence_json AS evidence_json,
       o.first_run_id AS first_run_id, o.last_run_id AS last_run_id, s IS NOT NULL AS in_current_run
