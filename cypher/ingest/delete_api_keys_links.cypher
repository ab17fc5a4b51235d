// (:Account)-[:USED_API_KEY]->(:ApiKey) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:USED_API_KEY]->(:ApiKey {api_key_id: row.value})
DELETE r
