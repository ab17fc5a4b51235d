// Lookups that are not keys: status filters, run ordering, operator listings.
CREATE INDEX account_status IF NOT EXISTS FOR (n:Account) ON (n.status);
CREATE INDEX account_created IF NOT EXISTS FOR (n:Account) ON (n.created_at);
CREATE INDEX operator_flagged IF NOT EXISTS FOR (n:Operator) ON (n.flagged);
CREATE INDEX operator_score IF NOT EXISTS FOR (n:Operator) ON (n.campaign_score);
CREATE INDEX attribution_run_started IF NOT EXISTS FOR (n:AttributionRun) ON (n.started_at);
CREATE INDEX attributed_to_run IF NOT EXISTS FOR ()-[r:ATTRIBUTED_TO]-() ON (r.run_id);
CREATE INDEX attribution_run_current IF NOT EXISTS FOR (n:AttributionRun) ON (n.current)
