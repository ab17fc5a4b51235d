// Each written IP hangs under its subnet (/24 IPv4, /48 IPv6), so proxy pools show as subnets.
UNWIND $rows AS row
MATCH (ip:IP {ip: row.ip})
MERGE (s:Subnet {cidr: row.subnet})
MERGE (ip)-[:IN_SUBNET]->(s)
