// Attribution runs by id.
UNWIND $ids AS id
MATCH (r:AttributionRun {run_id: id})
RETURN r.run_id AS run_id, r.status AS status, coalesce(r.current, false) AS current,
       r.started_at.epochMillis AS started_at, r.finished_at.epochMillis AS finished_at, r.seed AS seed,
       r.params_json AS params_json, r.timings_json AS timings_json, r.counts_json AS counts_json,
       r.metrics_json AS metrics_json, r.progress AS progress, r.error AS error
