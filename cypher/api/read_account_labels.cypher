// Operator names investigators already gave each account (the bundle's labels table).
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[r:HAS_LABEL]->(l:Label)
WITH id, l, r ORDER BY l.name
RETURN id AS account_id, collect({name: l.name, source: r.source}) AS items
