// The last outcome of one scheduled job (inbox, incremental, attribution), shared by all schedulers.
MERGE (j:JobState {name: $name})
SET j.last_run_at = $last_run_at,
    j.last_status = $last_status,
    j.last_error = $last_error,
    j.next_run_at = $next_run_at,
    j.last_duration_s = $last_duration_s,
    j.last_detail_json = $last_detail_json,
    j.holder = $holder,
    j.updated_at = datetime()
RETURN j.name AS name
