// One page of organisations, by name (case-insensitive) then org_id: filtered by name or id fragment,
// confirmed (listed by the organisations table) or not, attributed (the current run names it for an
// operator) or not; keyset pagination after ($after_key, $after_id). Caller sets $limit = first + 1.
OPTIONAL MATCH (run:AttributionRun {current: true})
MATCH (g:Organisation)
WHERE ($confirmed IS NULL OR coalesce(g.confirmed, false) = $confirmed)
  AND ($name_part IS NULL OR toLower(coalesce(g.name, '')) CONTAINS toLower($name_part) OR toLower(g.org_id) CONTAINS toLower($name_part))
WITH g, toLower(coalesce(g.name, g.org_id)) AS k,
     COUNT { (:Operator)-[h:LIKELY_RUN_BY]->(g) WHERE h.run_id = run.run_id AND h.asserted } AS n_operators
WHERE ($attributed IS NULL OR (n_operators > 0) = $attributed)
  AND ($after_id IS NULL OR k > $after_key OR (k = $after_key AND g.org_id > $after_id))
RETURN g.org_id AS org_id, coalesce(g.name, g.org_id) AS name, coalesce(g.confirmed, false) AS confirmed,
       g.kind AS kind, g.country AS country, coalesce(g.domains, []) AS domains, g.source AS source,
       n_operators, k AS sort_key
ORDER BY k, org_id
LIMIT $limit
