// Organisations by id, with how many operators the current run attributes to each.
UNWIND $ids AS id
MATCH (g:Organisation {org_id: id})
OPTIONAL MATCH (run:AttributionRun {current: true})
RETURN g.org_id AS org_id, coalesce(g.name, g.org_id) AS name, coalesce(g.confirmed, false) AS confirmed,
       g.kind AS kind, g.country AS country, coalesce(g.domains, []) AS domains, g.source AS source,
       COUNT { (:Operator)-[h:LIKELY_RUN_BY]->(g) WHERE h.run_id = run.run_id AND h.asserted } AS n_operators
