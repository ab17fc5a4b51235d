// The shortest evidence path between two accounts through shared identifiers: at most 4 identifier hops
// (8 relationships; a bound cannot be a parameter). Hubs (identifiers of more than $max_identifier_accounts
// accounts: carrier NAT, webmail domains) are not evidence and are not crossed. Among equally short paths
// the one through the rarest identifiers wins, then the strongest kinds ($rank: relationship type -> rank).
MATCH (a:Account {account_id: $a}), (b:Account {account_id: $b})
MATCH p = allShortestPaths((a)-[:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN*..8]-(b))
WHERE all(n IN nodes(p) WHERE n:Account OR coalesce(n.n_accounts, 0) <= $max_identifier_accounts)
WITH p LIMIT 1000
WITH p,
     reduce(s = 0.0, n IN [x IN nodes(p) WHERE NOT x:Account] | s + 1.0 / coalesce(n.n_accounts, 2)) AS rarity,
     [r IN relationships(p) | $rank[type(r)]] AS ranks,
     [n IN nodes(p) | coalesce(n.account_id, n.instrument_id, n.ip, n.cidr, n.device_id, n.fingerprint, n.domain)] AS keys
ORDER BY rarity DESC, ranks, keys
LIMIT 1
RETURN [n IN nodes(p) | {
           account_id: n.account_id,
           value: coalesce(n.instrument_id, n.ip, n.cidr, n.device_id, n.fingerprint, n.domain),
           n_accounts: n.n_accounts, bin: n.bin, last4: n.last4
       }] AS nodes,
       [r IN relationships(p) | type(r)] AS rels
