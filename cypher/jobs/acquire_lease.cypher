// A lease: taken when free or expired, renewed by its holder. The first SET takes the node's
// write lock before the lease is read, so two concurrent takers are serialised and the second
// sees the first's commit (reading first and writing after would let both take it).
MERGE (l:Lock {name: $name})
SET l.contended_at = datetime()
WITH l, (l.holder IS NULL OR l.expires_at < datetime() OR l.holder = $holder) AS free
SET l.acquired_at = CASE WHEN free AND coalesce(l.holder, '') <> $holder THEN datetime() ELSE l.acquired_at END,
    l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
    l.expires_at = CASE WHEN free THEN datetime() + duration({seconds: $ttl_s}) ELSE l.expires_at END
RETURN free AS acquired, l.holder AS holder, l.expires_at AS expires_at
