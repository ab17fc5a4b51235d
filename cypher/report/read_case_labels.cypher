// Case file labels: operator names investigators gave the operator's current members (the labels table), per name.
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator {operator_id: $id})<-[r:ATTRIBUTED_TO]-(a:Account)-[l:HAS_LABEL]->(lab:Label)
WHERE r.run_id = run.run_id
RETURN lab.name AS name, l.source AS source, count(DISTINCT a) AS accounts
ORDER BY accounts DESC, name
