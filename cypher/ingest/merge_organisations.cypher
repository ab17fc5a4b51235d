// Known organisations (the organisations table): confirmed, as opposed to ones attribution infers.
UNWIND $rows AS row
MERGE (o:Organisation {org_id: row.org_id})
SET o.name = row.name,
    o.country = row.country,
    o.kind = row.kind,
    o.domains = row.domains,
    o.confirmed = true
