// Accounts of every operator the current run flagged: left out of the benign population the case file compares with.
MATCH (run:AttributionRun {current: true})
MATCH (o:Operator)-[s:SCORED_IN]->(run) WHERE s.flagged
MATCH (o)<-[r:ATTRIBUTED_TO]-(a:Account) WHERE r.run_id = run.run_id
RETURN collect(a.account_id) AS accounts
