// Which of an account and an operator exist (for clear mutation errors).
OPTIONAL MATCH (a:Account {account_id: $account_id})
OPTIONAL MATCH (o:Operator {operator_id: $operator_id})
RETURN a IS NOT NULL AS account, o IS NOT NULL AS operator
