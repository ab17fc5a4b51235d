// Known organisations no live delivery names any more, with their relationships.
UNWIND $rows AS row
MATCH (o:Organisation {org_id: row.org_id})
DETACH DELETE o
