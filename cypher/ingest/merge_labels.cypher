// What investigators already know: an account carries the operator name they use.
UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
MERGE (l:Label {name: row.operator_label})
MERGE (a)-[r:HAS_LABEL]->(l)
SET r.source = row.source
