// The population the evidence weights are relative to (count store: constant time).
MATCH (a:Account)
RETURN count(a) AS accounts
