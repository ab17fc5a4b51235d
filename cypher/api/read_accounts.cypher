// Accounts by id, for the account DataLoader (one statement per request, whatever the number of ids).
UNWIND $ids AS id
MATCH (a:Account {account_id: id})
RETURN a.account_id AS account_id,
       a.created_at.epochMillis AS created_at,
       a.email_domain AS email_domain,
       a.country AS country,
       a.signup_ip AS signup_ip,
       a.status AS status,
       a.n_interactions AS n_interactions,
       a.input_tokens AS input_tokens,
       a.output_tokens AS output_tokens,
       a.first_interaction.epochMillis AS first_interaction,
       a.last_interaction.epochMillis AS last_interaction,
       a.hour_hist AS hour_hist,
       a.category_names AS category_names,
       a.category_counts AS category_counts,
       a.n_sessions AS n_sessions,
       a.n_ips AS n_ips,
       a.n_devices AS n_devices,
       a.n_templates AS n_templates,
       a.n_tls AS n_tls,
       a.n_cards AS n_cards
