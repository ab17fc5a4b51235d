// Hypotheses of which organisation runs each operator, written with the run (current once the run
// is promoted). An organisation no table lists (a network owner, a corporate domain, a label's
// name) is created unconfirmed; a listed one (ingest's organisations table) is left as it is.
UNWIND $rows AS row
MATCH (o:Operator {operator_id: row.operator_id})
MERGE (g:Organisation {org_id: row.org_id})
ON CREATE SET g.name = row.org_name, g.confirmed = false, g.kind = row.org_kind, g.source = row.org_source,
              g.discovered_run_id = $run_id
SET g.domains = CASE WHEN coalesce(g.confirmed, false) THEN g.domains ELSE row.org_domains END
CREATE (o)-[:LIKELY_RUN_BY {
    run_id: $run_id, score: row.score, probability: row.probability, rank: row.rank,
    asserted: row.asserted, decision: row.decision, evidence_json: row.evidence_json
}]->(g)
