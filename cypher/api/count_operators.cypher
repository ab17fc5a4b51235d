// How many current operators pass the filter of list_operators.
MATCH (:AttributionRun {current: true})<-[s:SCORED_IN]-(o:Operator)
WHERE ($flagged IS NULL OR s.flagged = $flagged)
  AND ($min_size IS NULL OR s.size >= $min_size)
  AND ($label IS NULL OR toLower(coalesce(o.analyst_label, o.label, '')) = toLower($label))
RETURN count(o) AS total
