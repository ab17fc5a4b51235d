// Case file evidence, second pass: for the strongest shared identifiers (element ids from read_case_identifiers),
// the value, card BIN and last 4 (for masking), the members using it, and when they first and last used it.
MATCH (run:AttributionRun {current: true})
UNWIND $refs AS ref
MATCH (i) WHERE elementId(i) = ref
MATCH (i)<-[u:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN|USED_USER_AGENT|USED_CARD_BIN|USED_API_KEY|USED_NETWORK]-(a:Account)
      -[r:ATTRIBUTED_TO]->(:Operator {operator_id: $id})
WHERE r.run_id = run.run_id
RETURN ref, coalesce(i.instrument_id, i.ip, i.cidr, i.device_id, i.fingerprint, i.domain, i.user_agent, i.bin, i.api_key_id, i.owner) AS value, i.bin AS bin,
       i.last4 AS last4, collect(a.account_id) AS members, min(u.first_seen).epochMillis AS first_seen,
       max(u.last_seen).epochMillis AS last_seen
