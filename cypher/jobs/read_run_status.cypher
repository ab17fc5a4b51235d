// Whether a run record exists (a run that never took the lock has none), and its status.
MATCH (r:AttributionRun {run_id: $run_id})
RETURN r.status AS status, r.error AS error
