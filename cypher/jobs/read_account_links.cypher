// Every identifier link of the accounts named, as attribution/read_links returns them.
UNWIND $account_ids AS id
MATCH (a:Account {account_id: id})-[r:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
RETURN a.account_id AS account_id,
       type(r) AS rel,
       coalesce(i.instrument_id, i.ip, i.cidr, i.device_id, i.fingerprint, i.domain) AS value,
       i.n_accounts AS n_accounts,
       r.count AS count
