// Provisional attributions of newly ingested accounts under the current run. Written only while
// $run_id is still current (a full run that became current meanwhile decides for itself) and
// only for accounts the run has not placed yet (idempotent).
MATCH (run:AttributionRun {run_id: $run_id, current: true})
UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
WHERE NOT EXISTS { (a)-[:ATTRIBUTED_TO {run_id: $run_id}]->() }
MATCH (o:Operator {operator_id: row.operator_id})
CREATE (a)-[r:ATTRIBUTED_TO {run_id: $run_id, confidence: row.confidence, provisional: true,
                             evidence_json: row.evidence_json, controlled_from: row.controlled_from,
                             attributed_at: datetime(),
                             source: 'incremental', ingest_id: $ingest_id}]->(o)
RETURN count(r) AS created
