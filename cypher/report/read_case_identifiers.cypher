// Case file evidence, first pass: every identifier at least two of the operator's current members share (hubs have
// no links, so they never appear), with its rarity and how many members share it. Only counts: the strongest are
// read in full by read_case_identifier_details.
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator {operator_id: $id})<-[r:ATTRIBUTED_TO]-(a:Account)
WHERE r.run_id = run.run_id
WITH DISTINCT a  // the members first: else the planner looks the run up again for every link
MATCH (a)-[u:PAID_WITH|USED_IP|USED_SUBNET|USED_DEVICE|USED_TLS|USED_TEMPLATE|HAS_EMAIL_DOMAIN|USED_USER_AGENT|USED_CARD_BIN|USED_API_KEY|USED_NETWORK]->(i)
WITH type(u) AS rel, i, count(a) AS members_sharing
WHERE members_sharing >= 2
RETURN rel, elementId(i) AS ref, coalesce(i.n_accounts, members_sharing) AS n_accounts, members_sharing
