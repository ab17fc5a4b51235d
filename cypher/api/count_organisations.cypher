// How many organisations pass the filter of list_organisations.
OPTIONAL MATCH (run:AttributionRun {current: true})
MATCH (g:Organisation)
WHERE ($confirmed IS NULL OR coalesce(g.confirmed, false) = $confirmed)
  AND ($name_part IS NULL OR toLower(coalesce(g.name, '')) CONTAINS toLower($name_part) OR toLower(g.org_id) CONTAINS toLower($name_part))
WITH g, COUNT { (:Operator)-[h:LIKELY_RUN_BY]->(g) WHERE h.run_id = run.run_id AND h.asserted } AS n_operators
WHERE $attributed IS NULL OR (n_operators > 0) = $attributed
RETURN count(g) AS total
