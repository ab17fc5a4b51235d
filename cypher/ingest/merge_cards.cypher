// PaymentInstrument nodes for identifiers used by at least two accounts; n_accounts is their rarity.
UNWIND $rows AS row
MERGE (n:PaymentInstrument {instrument_id: row.value})
SET n.n_accounts = row.n_accounts,
    n.hub = row.hub,
    n.bin = row.bin,
    n.last4 = row.last4,
    n.issuer_country = row.issuer_country
