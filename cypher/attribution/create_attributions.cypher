UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
MATCH (o:Operator {operator_id: row.operator_id})
CREATE (a)-[:ATTRIBUTED_TO {run_id: $run_id, confidence: row.confidence, provisional: false,
                            evidence_json: row.evidence_json, controlled_from: row.controlled_from}]->(o)
