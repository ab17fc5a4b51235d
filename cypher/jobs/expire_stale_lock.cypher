// A lock whose holder promised a heartbeat and stopped beating for $stale_s seconds is dead
// (its process was killed): expire it now instead of waiting out the holder's TTL. A holder
// that never beat (a CLI run) is left to its TTL.
MATCH (l:Lock {name: $name})
WHERE l.holder IS NOT NULL
  AND l.expires_at > datetime()
  AND l.heartbeat_holder = l.holder
  AND l.heartbeat_at < datetime() - duration({seconds: $stale_s})
SET l.reclaimed_from = l.holder, l.reclaimed_at = datetime(), l.expires_at = datetime()
RETURN l.reclaimed_from AS holder
