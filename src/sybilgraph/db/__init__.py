"""Neo4j: the local launcher (``launcher``) and the one module that owns sessions (``session``)."""
