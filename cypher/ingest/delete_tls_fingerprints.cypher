// TlsFingerprint nodes that left the aggregate (no longer used by two accounts, or their deliveries withdrawn), with their relationships.
UNWIND $rows AS row
MATCH (n:TlsFingerprint {fingerprint: row.value})
DETACH DELETE n
