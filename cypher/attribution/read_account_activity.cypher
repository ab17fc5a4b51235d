// Per-account activity for the accounts named, for campaign features.
UNWIND $account_ids AS id
MATCH (a:Account {account_id: id})
RETURN a.account_id AS account_id,
       a.created_at.epochMillis AS created_at,
       coalesce(a.n_interactions, 0) AS n_interactions,
       coalesce(a.input_tokens, 0) AS input_tokens,
       coalesce(a.output_tokens, 0) AS output_tokens,
       a.first_interaction.epochMillis AS first_interaction,
       a.last_interaction.epochMillis AS last_interaction,
       coalesce(a.hour_hist, []) AS hour_hist,
       coalesce(a.category_names, []) AS category_names,
       coalesce(a.category_counts, []) AS category_counts
