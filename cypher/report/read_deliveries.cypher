// Data deliveries (ingest runs) finished before a time: the bundles an attribution run started at that time saw.
MATCH (i:IngestRun)
WHERE $before IS NULL OR i.finished_at IS NULL OR i.finished_at.epochMillis <= $before
RETURN properties(i) AS delivery, i.finished_at.epochMillis AS finished_at
ORDER BY coalesce(i.seq, 0), i.ingest_id
