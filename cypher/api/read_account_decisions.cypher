// Analyst decisions about each account, newest first.
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[d:DECISION]->(o:Operator)
WITH id, o, d ORDER BY d.at DESC
RETURN id AS account_id,
       collect({account_id: id, operator_id: o.operator_id, decision: d.decision, by: d.by,
                at: d.at.epochMillis, reason: d.reason}) AS items
