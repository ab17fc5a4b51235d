// Whether the graph holds anything but leases and the API's data version: an empty graph can be
// loaded with the offline bulk importer (a scheduler's job state counts as data: the import would
// replace it).
MATCH (n)
WHERE NOT (n:Lock OR n:DataVersion)
RETURN count(n) > 0 AS has_data
LIMIT 1
