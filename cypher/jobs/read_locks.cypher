MATCH (l:Lock)
RETURN l.name AS name, l.holder AS holder, l.expires_at.epochMillis AS expires_at,
       l.heartbeat_at.epochMillis AS heartbeat_at,
       (l.holder IS NOT NULL AND l.heartbeat_holder = l.holder) AS heartbeating,
       l.reclaimed_from AS reclaimed_from, l.reclaimed_at.epochMillis AS reclaimed_at
ORDER BY name
