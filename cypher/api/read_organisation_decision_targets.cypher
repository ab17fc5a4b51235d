// Which of an operator and an organisation exist (for clear mutation errors).
OPTIONAL MATCH (o:Operator {operator_id: $operator_id})
OPTIONAL MATCH (g:Organisation {org_id: $org_id})
RETURN o IS NOT NULL AS operator, g IS NOT NULL AS organisation
