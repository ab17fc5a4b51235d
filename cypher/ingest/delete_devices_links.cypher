// (:Account)-[:USED_DEVICE]->(:Device) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:USED_DEVICE]->(:Device {device_id: row.value})
DELETE r
