// PaymentInstrument nodes that left the aggregate (no longer used by two accounts, or their deliveries withdrawn), with their relationships.
UNWIND $rows AS row
MATCH (n:PaymentInstrument {instrument_id: row.value})
DETACH DELETE n
