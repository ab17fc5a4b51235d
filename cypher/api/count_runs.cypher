MATCH (r:AttributionRun)
WHERE $status IS NULL OR r.status = $status
RETURN count(r) AS total
