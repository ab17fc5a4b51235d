// The last statement of a fenced write's transaction, just before its commit. Writing the lease
// node takes its write lock until the commit, so no takeover commits between this check and the
// write. A row comes back only while the token is still ours; no row: the lease was taken over
// and the caller rolls the transaction back. read_fence found the lease unexpired when the
// transaction began and nobody has taken it since, so the write commits even if the lease ran
// out meanwhile (a slow statement), as it would have had the lock been taken at the start. A
// holder whose lease is still running is alive and writing, so the lease is extended as a renewal
// would: a write longer than the heartbeat does not cost it the lease. An expired lease is not
// extended (renewing is not acquiring: the holder's next check finds it lost).
MATCH (l:Lock {name: $name})
SET l.fenced_at = datetime()
WITH l, l.expires_at >= datetime() AS live
WHERE l.token = $token
SET l.expires_at = CASE WHEN live THEN datetime() + duration({milliseconds: $ttl_ms}) ELSE l.expires_at END,
    l.renewed_at = CASE WHEN live THEN datetime() ELSE l.renewed_at END
RETURN l.token AS token
