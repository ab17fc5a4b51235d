MATCH (o:Operator) WHERE o.analyst_label IS NOT NULL
RETURN o.operator_id AS operator_id, o.analyst_label AS label
