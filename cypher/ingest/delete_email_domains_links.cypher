// (:Account)-[:HAS_EMAIL_DOMAIN]->(:EmailDomain) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:HAS_EMAIL_DOMAIN]->(:EmailDomain {domain: row.value})
DELETE r
