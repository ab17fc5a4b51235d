MATCH (l:Lock)
RETURN l.name AS name, l.holder AS holder, l.token AS token,
       l.expires_at.epochMillis AS expires_at, l.renewed_at.epochMillis AS renewed_at,
       l.taken_from AS taken_from, l.acquired_at.epochMillis AS acquired_at
ORDER BY name
