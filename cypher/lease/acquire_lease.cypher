// Take a lease when it is free or expired, with a new fencing token. The first SET takes the
// node's write lock before the lease is read, so two racing takers are serialised and the second
// sees the first's commit. Tokens only grow: one more than the last, and never below the server's
// epoch milliseconds (so a Lock node deleted by a reset does not restart them at 1).
MERGE (l:Lock {name: $name})
SET l.contended_at = datetime()
WITH l, (l.holder IS NULL OR l.expires_at < datetime()) AS free
SET l.token = CASE WHEN NOT free THEN l.token
                   WHEN coalesce(l.token, 0) >= timestamp() THEN l.token + 1
                   ELSE timestamp() END,
    l.acquired_at = CASE WHEN free THEN datetime() ELSE l.acquired_at END,
    l.renewed_at = CASE WHEN free THEN datetime() ELSE l.renewed_at END,
    l.taken_from = CASE WHEN free AND l.holder IS NOT NULL THEN l.holder ELSE l.taken_from END,
    l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
    l.expires_at = CASE WHEN free THEN datetime() + duration({milliseconds: $ttl_ms}) ELSE l.expires_at END
RETURN free AS acquired, l.holder AS holder, l.token AS token, l.expires_at AS expires_at
