// One page of attribution runs, newest first (keyset on started_at, run_id); $limit is first + 1.
MATCH (r:AttributionRun)
WHERE ($status IS NULL OR r.status = $status)
WITH r, coalesce(r.started_at.epochMillis, 0) AS k
WHERE $after_id IS NULL OR k < $after_key OR (k = $after_key AND r.run_id < $after_id)
RETURN r.run_id AS run_id, r.status AS status, coalesce(r.current, false) AS current,
       r.started_at.epochMillis AS started_at, r.finished_at.epochMillis AS finished_at, r.seed AS seed,
       r.params_json AS params_json, r.timings_json AS timings_json, r.counts_json AS counts_json,
       r.metrics_json AS metrics_json, r.progress AS progress, r.error AS error, k AS sort_key
ORDER BY k DESC, run_id DESC
LIMIT $limit
