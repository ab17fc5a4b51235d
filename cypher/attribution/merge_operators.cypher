// Operators of this run with their per-run scores; the Operator node itself is stable.
MATCH (run:AttributionRun {run_id: $run_id})
UNWIND $rows AS row
MERGE (o:Operator {operator_id: row.operator_id})
ON CREATE SET o.first_run_id = $run_id, o.created_at = datetime()
CREATE (o)-[:SCORED_IN {
    run_id: $run_id, size: row.size, campaign_score: row.campaign_score, flagged: row.flagged,
    label: row.label, label_conflict: row.label_conflict,
    features_json: row.features_json, evidence_json: row.evidence_json
}]->(run)
