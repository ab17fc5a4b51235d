MATCH (r:AttributionRun {run_id: $run_id})
SET r.progress = $progress
