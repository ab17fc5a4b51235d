// Labels that left (their deliveries withdrawn or replaced); a Label no account carries any more goes too.
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:HAS_LABEL]->(l:Label {name: row.operator_label})
DELETE r
WITH DISTINCT l
WHERE NOT EXISTS { (l)<-[:HAS_LABEL]-() }
DELETE l
