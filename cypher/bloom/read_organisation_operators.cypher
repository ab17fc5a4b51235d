// Bloom: "operators of organisation $name". The organisation(s) of that name and the operators
// the current run's hypotheses say it likely runs, strongest hypothesis first.
MATCH (run:AttributionRun {current: true})
MATCH (org:Organisation {name: $name})<-[h:LIKELY_RUN_BY]-(o:Operator)
WHERE h.run_id = run.run_id
RETURN org, h, o
ORDER BY h.score DESC, o.operator_id
