// (:Account)-[:PAID_WITH]->(:PaymentInstrument) relationships that left the aggregate (the identifier became a hub, or the usage was withdrawn).
UNWIND $rows AS row
MATCH (:Account {account_id: row.account_id})-[r:PAID_WITH]->(:PaymentInstrument {instrument_id: row.value})
DELETE r
