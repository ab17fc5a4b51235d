// The run becomes current in one transaction: readers see the old run or the new, never half.
MATCH (run:AttributionRun {run_id: $run_id})
OPTIONAL MATCH (old:AttributionRun {current: true}) WHERE old.run_id <> $run_id
SET old.current = false
SET run.current = true, run.status = 'complete', run.finished_at = datetime(), run.progress = 'complete',
    run.timings_json = $timings_json, run.counts_json = $counts_json
WITH DISTINCT run
CALL (run) {
    MATCH (o:Operator)
    OPTIONAL MATCH (o)-[s:SCORED_IN]->(run)
    SET o.size = coalesce(s.size, 0),
        o.campaign_score = coalesce(s.campaign_score, 0.0),
        o.flagged = coalesce(s.flagged, false),
        o.label = CASE WHEN s IS NULL THEN o.label ELSE coalesce(o.analyst_label, s.label) END,
        o.label_conflict = CASE WHEN s IS NULL THEN o.label_conflict ELSE s.label_conflict END,
        o.features_json = CASE WHEN s IS NULL THEN o.features_json ELSE s.features_json END,
        o.evidence_json = CASE WHEN s IS NULL THEN o.evidence_json ELSE s.evidence_json END,
        o.retired = s IS NULL,
        o.last_run_id = CASE WHEN s IS NULL THEN o.last_run_id ELSE run.run_id END
}
RETURN run.run_id AS run_id
