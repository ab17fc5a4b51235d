MATCH (j:JobState)
RETURN j.name AS name, j.last_status AS last_status, j.last_error AS last_error,
       j.last_run_at.epochMillis AS last_run_at, j.next_run_at.epochMillis AS next_run_at,
       j.last_duration_s AS last_duration_s, j.last_detail_json AS last_detail_json, j.holder AS holder
ORDER BY name
