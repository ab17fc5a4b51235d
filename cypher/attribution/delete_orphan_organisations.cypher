// Organisations attribution discovered (unconfirmed) that no kept run names and no analyst decided on.
MATCH (g:Organisation)
WHERE NOT coalesce(g.confirmed, false) AND NOT (g)--()
DELETE g
