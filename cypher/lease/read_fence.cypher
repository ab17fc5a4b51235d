// The first statement of a fenced write's transaction: a read, so it takes no lock. A row comes
// back while the token is current and the lease unexpired; no row: the caller writes nothing.
// (The check under the lease node's lock, that no takeover came between, is check_fence, the
// last statement.)
MATCH (l:Lock {name: $name})
WHERE l.token = $token AND l.expires_at >= datetime()
RETURN l.token AS token
