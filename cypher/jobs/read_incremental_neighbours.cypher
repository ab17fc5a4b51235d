// Accounts sharing a non-hub identifier (fewer than $n_max accounts) with the accounts named,
// with the operator the run placed each with (null when none).
UNWIND $account_ids AS id
MATCH (a:Account {account_id: id})-[:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
WHERE i.n_accounts < $n_max
MATCH (i)<-[:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]-(m:Account)
WHERE m <> a
WITH DISTINCT m
OPTIONAL MATCH (m)-[:ATTRIBUTED_TO {run_id: $run_id}]->(o:Operator)
RETURN m.account_id AS account_id, o.operator_id AS operator_id
