MATCH (r:AttributionRun {status: 'complete'})
RETURN r.run_id AS run_id
ORDER BY r.finished_at DESC
LIMIT $limit
