// Analyst decisions about each operator's accounts, newest first.
UNWIND $ids AS id
MATCH (a:Account)-[d:DECISION]->(o:Operator {operator_id: id})
RETURN id AS operator_id, a.account_id AS account_id, d.decision AS decision, d.by AS by,
       d.at.epochMillis AS at, d.reason AS reason
ORDER BY operator_id, at DESC
