// (:Account)-[:USED_USER_AGENT]->(:UserAgent) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:USED_USER_AGENT]->(:UserAgent {user_agent: row.value})
DELETE r
