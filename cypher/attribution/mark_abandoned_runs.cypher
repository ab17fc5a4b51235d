// Runs left 'running' by a dead holder (we hold the lock now) are failed runs.
MATCH (r:AttributionRun {status: 'running'})
WHERE r.run_id <> $run_id
SET r.status = 'failed', r.error = coalesce(r.error, 'abandoned: its process stopped before completing')
RETURN count(r) AS abandoned
