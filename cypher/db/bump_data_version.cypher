// Tell readers that cache answers (the API) that the graph changed: run in the transaction of the
// change, so the new version and the new data commit together.
MERGE (v:DataVersion {name: 'graph'})
SET v.version = coalesce(v.version, 0) + 1, v.changed_at = datetime(), v.reason = $reason
RETURN v.version AS version
