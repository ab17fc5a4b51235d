UNWIND $rows AS row
MATCH (child:Operator {operator_id: row.child})
MATCH (parent:Operator {operator_id: row.parent})
FOREACH (_ IN CASE WHEN row.kind = 'split' THEN [1] ELSE [] END |
    MERGE (child)-[s:SPLIT_FROM {run_id: $run_id}]->(parent) SET s.shared = row.shared)
FOREACH (_ IN CASE WHEN row.kind = 'merge' THEN [1] ELSE [] END |
    MERGE (child)-[m:MERGED_INTO {run_id: $run_id}]->(parent) SET m.shared = row.shared)
