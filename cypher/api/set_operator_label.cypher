// An analyst names an operator. `analyst_label` wins over bundle labels in every later run (see promote_run).
MATCH (o:Operator {operator_id: $operator_id})
SET o.analyst_label = $label, o.label = $label, o.label_set_by = $by, o.label_set_at = datetime()
RETURN o.operator_id AS operator_id
