// Every attribution of each account across the runs still kept, newest run first; `current` marks the current run's.
UNWIND $ids AS id
MATCH (a:Account {account_id: id})-[r:ATTRIBUTED_TO]->(o:Operator)
OPTIONAL MATCH (run:AttributionRun {run_id: r.run_id})
RETURN id AS account_id,
       o.operator_id AS operator_id,
       r.run_id AS run_id,
       r.confidence AS confidence,
       coalesce(r.provisional, false) AS provisional,
       r.evidence_json AS evidence_json,
       coalesce(run.current, false) AS current,
       run.started_at.epochMillis AS run_started_at
ORDER BY account_id, run_started_at DESC, run_id DESC
