// Every account-identifier link the graph holds (identifiers of at least two accounts).
MATCH (a:Account)-[r:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
RETURN a.account_id AS account_id,
       type(r) AS rel,
       coalesce(i.instrument_id, i.ip, i.cidr, i.device_id, i.fingerprint, i.domain) AS value,
       i.n_accounts AS n_accounts,
       r.count AS count
