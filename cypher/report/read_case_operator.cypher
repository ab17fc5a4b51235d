// Case file header: the operator, the current run (its parameters, and whether the operator is part of it),
// the population size (the N of evidence weights), and the current run's organisation hypotheses, strongest first
// (asserted ones, and candidates below attribution's threshold, asserted = false).
MATCH (o:Operator {operator_id: $id})
OPTIONAL MATCH (run:AttributionRun {current: true})
OPTIONAL MATCH (o)-[s:SCORED_IN]->(run)
RETURN o.operator_id AS operator_id, o.label AS label, coalesce(o.label_conflict, []) AS label_conflict,
       o.analyst_label AS analyst_label, coalesce(s.size, o.size, 0) AS size,
       coalesce(s.campaign_score, o.campaign_score, 0.0) AS campaign_score, coalesce(s.flagged, o.flagged, false) AS flagged,
       coalesce(s.features_json, o.features_json) AS features_json, s IS NOT NULL AS in_current_run,
       run.run_id AS run_id, run.seed AS seed, run.params_json AS params_json,
       run.started_at.epochMillis AS run_started_at, run.finished_at.epochMillis AS run_finished_at,
       COUNT { (:Account) } AS population,
       COLLECT {
           MATCH (o)-[h:LIKELY_RUN_BY]->(org:Organisation) WHERE h.run_id = run.run_id
           RETURN {org_id: org.org_id, name: org.name, confirmed: org.confirmed, score: h.score, rank: h.rank,
                   probability: h.probability, asserted: h.asserted, evidence_json: h.evidence_json}
           ORDER BY h.rank, h.score DESC
       } AS organisations
