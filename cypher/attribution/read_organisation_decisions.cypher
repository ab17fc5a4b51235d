// Analysts' decisions on organisation hypotheses; the latest per operator and organisation counts.
MATCH (o:Operator)-[d:ORGANISATION_DECISION]->(g:Organisation)
WITH o, g, d ORDER BY d.at DESC
WITH o, g, collect(d)[0] AS d
RETURN o.operator_id AS operator_id, g.org_id AS org_id, d.decision AS decision
