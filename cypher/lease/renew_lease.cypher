// Extend our own lease. Not an acquire: a lease that expired or changed hands is NOT taken back
// (renewed = false), so a holder that stalled past its lease learns that it lost it.
MATCH (l:Lock {name: $name})
SET l.renew_attempted_at = datetime()
WITH l, (l.holder = $holder AND l.token = $token AND l.expires_at >= datetime()) AS ours
SET l.expires_at = CASE WHEN ours THEN datetime() + duration({milliseconds: $ttl_ms}) ELSE l.expires_at END,
    l.renewed_at = CASE WHEN ours THEN datetime() ELSE l.renewed_at END
RETURN ours AS renewed, l.holder AS holder, l.token AS token, l.expires_at AS expires_at
