// An analyst confirms or rejects an account's attribution to an operator; the next run honours the latest one.
MATCH (a:Account {account_id: $account_id})
MATCH (o:Operator {operator_id: $operator_id})
CREATE (a)-[d:DECISION {decision: $decision, by: $by, at: datetime(), reason: $reason}]->(o)
RETURN a.account_id AS account_id, o.operator_id AS operator_id, d.decision AS decision, d.by AS by,
       d.at.epochMillis AS at, d.reason AS reason
