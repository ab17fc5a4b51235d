// Of the accounts named, those the run has not placed with any operator.
UNWIND $account_ids AS id
MATCH (a:Account {account_id: id})
WHERE NOT EXISTS { (a)-[:ATTRIBUTED_TO {run_id: $run_id}]->() }
RETURN a.account_id AS account_id
