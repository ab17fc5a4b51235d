// One attribution at a time, across processes: the lock is taken when free or expired (its
// holder died), and renewed by its holder while it works.
MERGE (l:Lock {name: $name})
WITH l, (l.holder IS NULL OR l.expires_at < datetime() OR l.holder = $holder) AS free
SET l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
    l.expires_at = CASE WHEN free THEN datetime() + duration({seconds: $ttl_s}) ELSE l.expires_at END,
    l.acquired_at = CASE WHEN free AND l.holder <> $holder THEN datetime() ELSE coalesce(l.acquired_at, datetime()) END
RETURN free AS acquired, l.holder AS holder, l.expires_at AS expires_at
