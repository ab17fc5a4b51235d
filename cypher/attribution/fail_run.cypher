MATCH (r:AttributionRun {run_id: $run_id})
SET r.status = 'failed', r.error = $error, r.finished_at = datetime()
