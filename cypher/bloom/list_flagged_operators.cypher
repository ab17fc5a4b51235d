// Bloom: "flagged operators by size". Operators the current run flagged as campaigns, largest
// first; the perspective sizes them by campaign_score.
MATCH (o:Operator {flagged: true})
WHERE NOT coalesce(o.retired, false)
RETURN o
ORDER BY o.size DESC, o.operator_id
LIMIT 100
