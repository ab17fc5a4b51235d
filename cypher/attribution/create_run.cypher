CREATE (r:AttributionRun {
    run_id: $run_id, status: 'running', current: false, started_at: datetime(),
    seed: $seed, params_json: $params_json, progress: 'starting'
})
RETURN r.run_id AS run_id
