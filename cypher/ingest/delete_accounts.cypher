// Accounts no live delivery has any more (their deliveries were withdrawn), with every relationship.
UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
DETACH DELETE a
