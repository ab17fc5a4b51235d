// The weighted account-evidence graph, projected into GDS from parallel lists (accounts are
// integer ids here; the caller maps them back). Undirected: evidence is symmetric.
UNWIND range(0, size($src) - 1) AS i
WITH $src[i] AS s, $dst[i] AS t, $weight[i] AS w
RETURN gds.graph.project(
    $graph_name, s, t,
    {relationshipProperties: {weight: w}},
    {undirectedRelationshipTypes: ['*']}
) AS g
