// Relationships of failed runs, and ATTRIBUTED_TO / LIKELY_RUN_BY of complete runs beyond the kept history.
MATCH (r:AttributionRun)
WHERE r.status = 'failed' OR (r.status = 'complete' AND NOT r.run_id IN $keep_run_ids)
WITH collect(r.run_id) AS dead
MATCH ()-[x:ATTRIBUTED_TO|LIKELY_RUN_BY]->()
WHERE x.run_id IN dead
CALL (x) { DELETE x } IN TRANSACTIONS OF 10000 ROWS
