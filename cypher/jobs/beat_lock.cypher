// Heartbeat of a scheduler's attribution run on the pipeline's lock. The pipeline names its
// holder "<host>:<pid>:<run_id>"; run ids are unique, so the suffix identifies our run. Returns
// whether the lock is (still) ours.
MATCH (l:Lock {name: $name})
WITH l, (l.holder IS NOT NULL AND l.holder ENDS WITH (':' + $run_id) AND l.expires_at > datetime())
        AS ours
SET l.heartbeat_holder = CASE WHEN ours THEN l.holder ELSE l.heartbeat_holder END,
    l.heartbeat_at = CASE WHEN ours THEN datetime() ELSE l.heartbeat_at END
RETURN ours, l.holder AS holder
