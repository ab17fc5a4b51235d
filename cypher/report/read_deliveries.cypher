// Data deliveries (ingest runs) an attribution run starting at $before saw: finished before it, and not
// replaced or withdrawn before it (their status is today's: a later withdrawal shows as "withdrawn").
MATCH (i:IngestRun)
WHERE $before IS NULL
   OR ((i.finished_at IS NULL OR i.finished_at.epochMillis <= $before)
       AND (i.ended_at IS NULL OR i.ended_at.epochMillis > $before))
RETURN properties(i) AS delivery, i.finished_at.epochMillis AS finished_at
ORDER BY coalesce(i.seq, 0), i.ingest_id
