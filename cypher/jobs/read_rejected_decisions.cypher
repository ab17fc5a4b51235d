// Analyst rejections of the accounts named: (account, operator) pairs never to propose again.
UNWIND $account_ids AS id
MATCH (a:Account {account_id: id})-[d:DECISION]->(o:Operator)
WITH a, o, d ORDER BY d.at DESC
WITH a, o, collect(d)[0] AS latest
WHERE latest.decision = 'rejected'
RETURN a.account_id AS account_id, o.operator_id AS operator_id
