// Runs started at or after a moment: how the API learns the id of a run it has just started.
MATCH (r:AttributionRun)
WHERE r.started_at >= datetime({epochMillis: $since})
RETURN r.run_id AS run_id, r.started_at.epochMillis AS started_at
ORDER BY started_at DESC
