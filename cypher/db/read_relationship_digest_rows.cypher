// Every relationship with the identifying properties of both ends, for the canonical digest.
MATCH (a)-[r]->(b)
WHERE NOT a:IngestRun AND NOT b:AttributionRun AND NOT a:Lock
RETURN labels(a) AS a_labels, properties(a) AS a_props, type(r) AS type, properties(r) AS props,
       labels(b) AS b_labels, properties(b) AS b_props
