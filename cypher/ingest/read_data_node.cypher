// Whether the graph holds anything but leases, the API's data version and the ingest's record of
// the state it holds: an empty graph can be loaded with the offline bulk importer (a scheduler's
// job state counts as data: the import would replace it). EXISTS stops at the first such node
// instead of counting them all.
RETURN EXISTS { MATCH (n) WHERE NOT (n:Lock OR n:DataVersion OR n:IngestState) } AS has_data
