// Free our lease; the token stays, so the next holder's is larger.
OPTIONAL MATCH (l:Lock {name: $name, holder: $holder, token: $token})
SET l.holder = null, l.expires_at = null, l.released_at = datetime()
RETURN l IS NOT NULL AS released
