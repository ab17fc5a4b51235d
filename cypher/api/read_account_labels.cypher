// Operator names investigators already gave each account (the bundle's labels table).
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[r:HAS_LABEL]->(l:Label)
RETURN id AS account_id, l.name AS name, r.source AS source
ORDER BY account_id, name
