// The record of one delivery's ingest; its report lives beside the columnar store.
MERGE (r:IngestRun {ingest_id: $ingest_id})
SET r.bundle_id = $bundle_id,
    r.bundle = $bundle,
    r.seq = $seq,
    r.finished_at = datetime(),
    r.rows_loaded = $rows_loaded,
    r.rows_quarantined = $rows_quarantined,
    r.status = $status
