// One page of the current run's operators: filtered, ordered by size or campaign score (times $sign for the
// direction), ties by operator_id; keyset pagination after ($after_key, $after_id). Caller sets $limit = first + 1.
MATCH (:AttributionRun {current: true})<-[s:SCORED_IN]-(o:Operator)
WHERE ($flagged IS NULL OR s.flagged = $flagged)
  AND ($min_size IS NULL OR s.size >= $min_size)
  AND ($label IS NULL OR toLower(coalesce(o.analyst_label, o.label, '')) = toLower($label))
WITH o, s, $sign * (CASE $field WHEN 'size' THEN toFloat(s.size) ELSE toFloat(s.campaign_score) END) AS k
WHERE $after_id IS NULL OR k > $after_key OR (k = $after_key AND o.operator_id > $after_id)
RETURN o.operator_id AS operator_id, o.label AS label, coalesce(o.label_conflict, []) AS label_conflict,
       o.analyst_label AS analyst_label, s.size AS size, s.campaign_score AS campaign_score, s.flagged AS flagged,
       o.features_json AS features_json, o.evidence_json AS evidence_json, o.first_run_id AS first_run_id,
       o.last_run_id AS last_run_id, true AS in_current_run, k AS sort_key
ORDER BY k, operator_id
LIMIT $limit
