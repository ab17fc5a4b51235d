// Bloom: "who shares identifiers with account $id". The account, the identifiers it shares
// that are not hubs (used by fewer than max(50, 5% of accounts), attribution's hub cut-off),
// and the other accounts using them (rarest identifiers first when the limit cuts).
MATCH (x:Account)
WITH count(x) AS population
WITH CASE WHEN population * 0.05 > 50 THEN population * 0.05 ELSE 50 END AS hub
MATCH (a:Account {account_id: $id})-[r1:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
WHERE i.n_accounts < hub
MATCH (i)<-[r2:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]-(other:Account)
WHERE other <> a
RETURN a, r1, i, r2, other
ORDER BY i.n_accounts, other.account_id
LIMIT 1000
