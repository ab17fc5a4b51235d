// The weighted account-evidence graph, projected into GDS from parallel lists (accounts are
// integer ids here; the caller maps them back). Undirected: evidence is symmetric. The list
// elements go straight into the aggregation: binding them in a WITH first made the 2M-edge
// projection of scale 1.0 ~1.2x slower (same partition).
UNWIND range(0, size($src) - 1) AS i
RETURN gds.graph.project(
    $graph_name, $src[i], $dst[i],
    {relationshipProperties: {weight: $weight[i]}},
    {undirectedRelationshipTypes: ['*']}
) AS g
