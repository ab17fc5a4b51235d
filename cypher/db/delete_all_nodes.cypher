// Batched so that emptying a large graph never holds one huge transaction.
MATCH (n)
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $batch_size ROWS
