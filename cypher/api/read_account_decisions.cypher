// Analyst decisions about each account, newest first.
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[d:DECISION]->(o:Operator)
RETURN id AS account_id, o.operator_id AS operator_id, d.decision AS decision, d.by AS by,
       d.at.epochMillis AS at, d.reason AS reason
ORDER BY account_id, at DESC
