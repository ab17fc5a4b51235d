// One attribution at a time, across processes. The first SET takes the node's write lock
// before the lock is read, so two racing callers cannot both see it free. It is taken when
// free or expired (its holder died), and renewed by its holder while it works.
MERGE (l:Lock {name: $name})
SET l.contended_at = datetime()
WITH l, (l.holder IS NULL OR l.expires_at < datetime() OR l.holder = $holder) AS free
SET l.acquired_at = CASE WHEN free AND coalesce(l.holder, '') <> $holder THEN datetime() ELSE l.acquired_at END,
    l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
    l.expires_at = CASE WHEN free THEN datetime() + duration({seconds: $ttl_s}) ELSE l.expires_at END
RETURN free AS acquired, l.holder AS holder, l.expires_at AS expires_at
