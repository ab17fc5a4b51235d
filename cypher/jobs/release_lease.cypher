MATCH (l:Lock {name: $name, holder: $holder})
SET l.holder = null, l.expires_at = null
RETURN count(l) AS released
