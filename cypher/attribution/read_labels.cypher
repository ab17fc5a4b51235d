MATCH (a:Account)-[:HAS_LABEL]->(l:Label)
RETURN a.account_id AS account_id, l.name AS label
