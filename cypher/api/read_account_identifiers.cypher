// The shared identifiers each account used (identifier nodes exist only for values of two or more accounts).
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[r:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
RETURN id AS account_id,
       type(r) AS rel,
       coalesce(i.instrument_id, i.ip, i.cidr, i.device_id, i.fingerprint, i.domain) AS value,
       i.n_accounts AS n_accounts,
       i.bin AS bin,
       i.last4 AS last4,
       r.count AS count,
       r.first_seen.epochMillis AS first_seen,
       r.last_seen.epochMillis AS last_seen
ORDER BY account_id, rel, i.n_accounts, value
