"""The Cypher statements, shipped as package data ``sybilgraph._cypher`` (read by ``sybilgraph.cypher``)."""
