// (:Account)-[:USED_SUBNET]->(:Subnet) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:USED_SUBNET]->(:Subnet {cidr: row.value})
DELETE r
