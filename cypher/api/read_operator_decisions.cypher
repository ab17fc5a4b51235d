// Analyst decisions about each operator's accounts, newest first.
UNWIND $ids AS id
MATCH (a:Account)-[d:DECISION]->(o:Operator {operator_id: id})
WITH id, a, d ORDER BY d.at DESC
RETURN id AS operator_id,
       collect({operator_id: id, account_id: a.account_id, decision: d.decision, by: d.by,
                at: d.at.epochMillis, reason: d.reason}) AS items
