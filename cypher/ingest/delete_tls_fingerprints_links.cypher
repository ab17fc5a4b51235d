// (:Account)-[:USED_TLS]->(:TlsFingerprint) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:USED_TLS]->(:TlsFingerprint {fingerprint: row.value})
DELETE r
