// A lease whose holder is known to be dead (a process of this host that no longer exists):
// expire it now instead of waiting out its TTL. Only if that holder still has it.
MATCH (l:Lock {name: $name, holder: $holder})
SET l.expires_at = datetime() - duration({seconds: 1})
RETURN count(l) AS expired
