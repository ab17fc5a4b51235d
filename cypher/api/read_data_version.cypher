// What the cached answers of the API were computed from: the current run, the DataVersion counter
// (bumped by every writer in the transaction of its change) and the last finished ingest. One small
// read, at most once per check interval per server process.
OPTIONAL MATCH (run:AttributionRun {current: true})
WITH collect(run.run_id) AS runs
OPTIONAL MATCH (v:DataVersion {name: 'graph'})
WITH runs, coalesce(v.version, 0) AS version
CALL () {
    MATCH (i:IngestRun)
    RETURN count(i) AS ingests, max(i.finished_at).epochMillis AS last_ingest
}
RETURN runs, version, ingests, last_ingest
