// The checkpointed head of one audit log (see merge_audit_checkpoint).
MATCH (c:AuditCheckpoint {log: $log})
RETURN c.seq AS seq, c.hash AS hash, c.at.epochMillis AS at
