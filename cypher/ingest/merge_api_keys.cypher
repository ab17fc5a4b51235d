// ApiKey nodes for identifiers used by at least two accounts; n_accounts is their rarity.
UNWIND $rows AS row
MERGE (n:ApiKey {api_key_id: row.value})
SET n.n_accounts = row.n_accounts,
    n.hub = row.hub
