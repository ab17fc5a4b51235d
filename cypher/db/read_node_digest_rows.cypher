// Every node as labels + properties, for a canonical digest of the graph (tests, checks).
MATCH (n)
WHERE NOT n:IngestRun AND NOT n:AttributionRun AND NOT n:Lock AND NOT n:DataVersion AND NOT n:IngestState
RETURN labels(n) AS labels, properties(n) AS props
