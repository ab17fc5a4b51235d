// IP nodes for identifiers used by at least two accounts; n_accounts is their rarity; owner, asn
// and net_kind come from the most specific ip_owners range holding the address (null: none).
UNWIND $rows AS row
MERGE (n:IP {ip: row.value})
SET n.n_accounts = row.n_accounts,
    n.hub = row.hub,
    n.owner = row.owner,
    n.asn = row.asn,
    n.net_kind = row.net_kind
