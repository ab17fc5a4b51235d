// The first statement of a fenced write's transaction. Writing the lease node takes its write
// lock, so no takeover commits between this check and the write; a row comes back only while
// the token is current and the lease unexpired. No row: the caller rolls the transaction back.
MATCH (l:Lock {name: $name})
SET l.fenced_at = datetime()
WITH l
WHERE l.token = $token AND l.expires_at >= datetime()
RETURN l.token AS token
