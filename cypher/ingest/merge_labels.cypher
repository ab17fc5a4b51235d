// What investigators already know: an account carries the operator name they use, and the
// organisation they believe runs it (labels.organisation: an org_id or a name).
UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
MERGE (l:Label {name: row.operator_label})
MERGE (a)-[r:HAS_LABEL]->(l)
SET r.source = row.source,
    r.organisation = row.organisation
