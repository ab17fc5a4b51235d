// One row per account: the latest contract row plus activity features over everything ingested.
UNWIND $rows AS row
MERGE (a:Account {account_id: row.account_id})
SET a.created_at = datetime({epochMillis: row.created_at}),
    a.email_domain = row.email_domain,
    a.country = row.country,
    a.signup_ip = row.signup_ip,
    a.status = row.status,
    a.n_interactions = row.n_interactions,
    a.input_tokens = row.input_tokens,
    a.output_tokens = row.output_tokens,
    a.first_interaction = CASE WHEN row.first_interaction IS NULL THEN null ELSE datetime({epochMillis: row.first_interaction}) END,
    a.last_interaction = CASE WHEN row.last_interaction IS NULL THEN null ELSE datetime({epochMillis: row.last_interaction}) END,
    a.hour_hist = row.hour_hist,
    a.category_names = row.category_names,
    a.category_counts = row.category_counts,
    a.n_sessions = row.n_sessions,
    a.n_ips = row.n_ips,
    a.n_devices = row.n_devices,
    a.n_templates = row.n_templates,
    a.n_tls = row.n_tls,
    a.n_cards = row.n_cards
