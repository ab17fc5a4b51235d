"""The launcher's Maven project, shipped as package data ``sybilgraph._launcher`` (built by ``sybilgraph.db.launcher``)."""
