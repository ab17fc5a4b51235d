// The evidence model fitted for this run (comparisons, levels, m, u, prior), kept with it so a
// decision can be explained later exactly as it was made.
MATCH (r:AttributionRun {run_id: $run_id})
SET r.model_json = $model_json
