// Population figures the campaign features are relative to (medians over active accounts).
MATCH (a:Account)
WITH count(a) AS accounts,
     percentileCont(CASE WHEN a.input_tokens > 0 THEN toFloat(a.output_tokens) / a.input_tokens END, 0.5) AS output_ratio,
     percentileCont(CASE WHEN a.n_interactions > 0 THEN
         toFloat(a.n_interactions) / CASE
             WHEN duration.inSeconds(a.first_interaction, a.last_interaction).seconds < 86400 THEN 1.0
             ELSE duration.inSeconds(a.first_interaction, a.last_interaction).seconds / 86400.0 END
     END, 0.5) AS per_active_day
RETURN accounts, output_ratio, per_active_day
