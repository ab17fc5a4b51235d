// Lineage around each operator. (child)-[:SPLIT_FROM]->(parent): the child took members of the parent;
// (old)-[:MERGED_INTO]->(new): the old operator's members now live in the new one.
UNWIND $ids AS id
MATCH (o:Operator {operator_id: id})
RETURN id AS operator_id,
       COLLECT { MATCH (o)-[r:SPLIT_FROM]->(x:Operator) RETURN {operator_id: x.operator_id, run_id: r.run_id, shared: r.shared} } AS split_from,
       COLLECT { MATCH (o)<-[r:SPLIT_FROM]-(x:Operator) RETURN {operator_id: x.operator_id, run_id: r.run_id, shared: r.shared} } AS split_into,
       COLLECT { MATCH (o)-[r:MERGED_INTO]->(x:Operator) RETURN {operator_id: x.operator_id, run_id: r.run_id, shared: r.shared} } AS merged_into,
       COLLECT { MATCH (o)<-[r:MERGED_INTO]-(x:Operator) RETURN {operator_id: x.operator_id, run_id: r.run_id, shared: r.shared} } AS merged_from
