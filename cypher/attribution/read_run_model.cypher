// The evidence model a run was fitted with ($run_id null: the current run).
MATCH (r:AttributionRun)
WHERE ($run_id IS NULL AND r.current) OR r.run_id = $run_id
RETURN r.run_id AS run_id, r.model_json AS model_json
