// Analysts' decisions on each operator's organisation hypotheses, newest first.
UNWIND $ids AS id
MATCH (o:Operator {operator_id: id})-[d:ORGANISATION_DECISION]->(g:Organisation)
WITH id, g, d ORDER BY d.at DESC
RETURN id AS operator_id,
       collect({operator_id: id, org_id: g.org_id, decision: d.decision, by: d.by, at: d.at.epochMillis,
                reason: d.reason}) AS items
