// When a job is next due (a retry, the next cron time), without touching its last outcome.
MERGE (j:JobState {name: $name})
SET j.next_run_at = $next_run_at, j.holder = $holder, j.updated_at = datetime()
RETURN j.name AS name
