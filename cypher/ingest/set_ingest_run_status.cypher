// A delivery that left: replaced by a redelivery of its bundle id, or withdrawn.
MATCH (r:IngestRun {ingest_id: $ingest_id})
SET r.status = $status,
    r.ended_at = datetime()
