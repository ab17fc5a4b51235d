// The shared identifiers each account used (identifier nodes exist only for values of two or more accounts):
// one row per account, its identifiers collected (one Bolt record per account, not per identifier).
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[r:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
WITH id, r, i ORDER BY type(r), i.n_accounts, coalesce(i.instrument_id, i.ip, i.cidr, i.device_id, i.fingerprint, i.domain)
RETURN id AS account_id,
       collect({
           rel: type(r),
           value: coalesce(i.instrument_id, i.ip, i.cidr, i.device_id, i.fingerprint, i.domain),
           n_accounts: i.n_accounts, bin: i.bin, last4: i.last4, count: r.count,
           first_seen: r.first_seen.epochMillis, last_seen: r.last_seen.epochMillis
       }) AS items
