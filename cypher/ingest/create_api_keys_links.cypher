// (:Account)-[:USED_API_KEY]->(:ApiKey) for links the graph does not hold (ingest/sync.py: keys absent from the saved state
// the graph is known to hold, and from the keys of any unfinished sync): CREATE, no MERGE check.
// One row per account with its links of this kind: the account is looked up once, not per link.
UNWIND $rows AS account
MATCH (a:Account {account_id: account.account_id})
UNWIND account.links AS row
MATCH (n:ApiKey {api_key_id: row.value})
CREATE (a)-[r:USED_API_KEY]->(n)
SET r.count = row.count,
    r.first_seen = CASE WHEN row.first_seen IS NULL THEN null ELSE datetime({epochMillis: row.first_seen}) END,
    r.last_seen = CASE WHEN row.last_seen IS NULL THEN null ELSE datetime({epochMillis: row.last_seen}) END
