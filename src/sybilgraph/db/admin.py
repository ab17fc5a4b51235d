"""Database administration: empty the graph and the columnar store, safely on a large graph."""

from __future__ import annotations

import shutil

from sybilgraph.db.session import Database

__all__ = ["reset"]


def reset(db: Database, batch_size: int = 10_000) -> dict[str, int]:
    """Drop GDS projections, delete every node in batches, remove the columnar store.

    Constraints and indexes stay: they are schema, not data.
    """
    dropped = 0
    for row in db.read("db/list_gds_graphs"):
        db.write("db/drop_gds_graph", name=row["graphName"])
        dropped += 1
    before = db.read("db/count_graph")[0]
    db.run_autocommit("db/delete_all_nodes", batch_size=batch_size)
    shutil.rmtree(db.settings.columnar_dir, ignore_errors=True)
    return {"nodes_deleted": before["nodes"], "relationships_deleted": before["relationships"], "gds_graphs_dropped": dropped}
