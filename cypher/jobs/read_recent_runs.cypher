// Attribution runs for `sybilgraph runs`, newest first, with the provisional attributions
// incremental attribution added to each.
MATCH (r:AttributionRun)
WITH r ORDER BY r.started_at DESC LIMIT $limit
RETURN r.run_id AS run_id, r.status AS status, coalesce(r.current, false) AS current,
       r.started_at.epochMillis AS started_at, r.finished_at.epochMillis AS finished_at,
       r.progress AS progress, r.error AS error, r.counts_json AS counts_json,
       COUNT { ()-[x:ATTRIBUTED_TO {run_id: r.run_id}]->() WHERE x.provisional } AS provisional
ORDER BY started_at DESC
