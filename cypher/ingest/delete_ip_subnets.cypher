// IN_SUBNET relationships of IP nodes that left the aggregate.
UNWIND $rows AS row
MATCH (:IP {ip: row.ip})-[r:IN_SUBNET]->(:Subnet {cidr: row.subnet})
DELETE r
