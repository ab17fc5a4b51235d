// Bloom: "evidence path between $a and $b". The shortest chain of shared identifiers linking
// two accounts, through accounts and non-hub identifiers only (at most 8 hops).
MATCH (x:Account)
WITH count(x) AS population
WITH CASE WHEN population * 0.05 > 50 THEN population * 0.05 ELSE 50 END AS hub
MATCH (a:Account {account_id: $a}), (b:Account {account_id: $b})
MATCH p = shortestPath((a)-[:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN*..8]-(b))
WHERE all(n IN nodes(p) WHERE n:Account OR n.n_accounts < hub)
RETURN p
