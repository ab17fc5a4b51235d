MATCH (r:AttributionRun {current: true})
RETURN r.run_id AS run_id, r.timings_json AS timings_json, r.counts_json AS counts_json,
       r.params_json AS params_json, r.finished_at AS finished_at
