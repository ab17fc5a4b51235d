// The audit log's head, kept outside the file: `sybilgraph audit verify` checks the log still holds
// this record. Several server processes share one log: only a later head replaces the one kept.
MERGE (c:AuditCheckpoint {log: $log})
WITH c
WHERE coalesce(c.seq, 0) < $seq
SET c.seq = $seq, c.hash = $hash, c.at = datetime()
RETURN c.seq AS seq
