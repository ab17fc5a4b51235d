// Analyst decisions; the latest per account and operator counts.
MATCH (a:Account)-[d:DECISION]->(o:Operator)
WITH a, o, d ORDER BY d.at DESC
WITH a, o, collect(d)[0] AS d
RETURN a.account_id AS account_id, o.operator_id AS operator_id, d.decision AS decision
