// For each (kind, value, after): a page of the accounts that used the identifier, by account_id, and their total.
// The kind picks one index-backed lookup of the UNION (labels cannot be parameters); $limit is first + 1.
// A key whose identifier has no node (one account used it) or is a hub (no per-account links) gets no row or
// hub = true: the caller asks the columnar store, which holds every account's identifiers.
UNWIND $keys AS k
CALL (k) {
    MATCH (i:PaymentInstrument {instrument_id: k.value}) WHERE k.kind = 'card' RETURN i
    UNION MATCH (i:IP {ip: k.value}) WHERE k.kind = 'ip' RETURN i
    UNION MATCH (i:Subnet {cidr: k.value}) WHERE k.kind = 'subnet' RETURN i
    UNION MATCH (i:Device {device_id: k.value}) WHERE k.kind = 'device' RETURN i
    UNION MATCH (i:TlsFingerprint {fingerprint: k.value}) WHERE k.kind = 'tls' RETURN i
    UNION MATCH (i:PromptTemplate {fingerprint: k.value}) WHERE k.kind = 'template' RETURN i
    UNION MATCH (i:EmailDomain {domain: k.value}) WHERE k.kind = 'email_domain' RETURN i
}
CALL (i, k) {
    MATCH (a:Account)-[r:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i)
    WHERE k.after IS NULL OR a.account_id > k.after
    WITH a, r ORDER BY a.account_id LIMIT $limit
    RETURN collect({account_id: a.account_id, count: r.count, first_seen: r.first_seen.epochMillis,
                    last_seen: r.last_seen.epochMillis}) AS page
}
RETURN k.kind AS kind, k.value AS value, k.after AS after, page, coalesce(i.hub, false) AS hub,
       COUNT { (:Account)-[:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN]->(i) } AS total
