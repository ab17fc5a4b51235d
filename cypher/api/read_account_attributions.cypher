// Every attribution of each account across the runs still kept, newest run first; `current` marks the current run's.
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[r:ATTRIBUTED_TO]->(o:Operator)
OPTIONAL MATCH (run:AttributionRun {run_id: r.run_id})
WITH id, o, r, run ORDER BY run.started_at DESC, r.run_id DESC
RETURN id AS account_id,
       collect({
           account_id: id, operator_id: o.operator_id, run_id: r.run_id, confidence: r.confidence,
           provisional: coalesce(r.provisional, false), evidence_json: r.evidence_json,
           controlled_from: r.controlled_from,
           current: coalesce(run.current, false), run_started_at: run.started_at.epochMillis
       }) AS items
