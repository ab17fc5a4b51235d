// An analyst confirms or rejects that an organisation runs an operator; later runs honour the latest
// decision per operator and organisation. Confirming an organisation no table lists creates it,
// unconfirmed, under the id given; rejecting needs an organisation that exists.
MATCH (o:Operator {operator_id: $operator_id})
OPTIONAL MATCH (known:Organisation {org_id: $org_id})
WITH o, known WHERE known IS NOT NULL OR $decision = 'confirmed'
MERGE (g:Organisation {org_id: $org_id})
ON CREATE SET g.name = $org_id, g.confirmed = false, g.source = 'analyst'
CREATE (o)-[d:ORGANISATION_DECISION {decision: $decision, by: $by, at: datetime(), reason: $reason}]->(g)
RETURN o.operator_id AS operator_id, g.org_id AS org_id, d.decision AS decision, d.by AS by,
       d.at.epochMillis AS at, d.reason AS reason
