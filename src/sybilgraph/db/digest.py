"""A canonical digest of the graph: equal digests mean equal nodes, relationships and properties.

Run bookkeeping (IngestRun, AttributionRun, Lock, DataVersion, IngestState) is left out: it records wall-clock times
(and, for IngestState, a random lineage) that differ between two runs that produce the same graph.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sybilgraph.db.session import Database

__all__ = ["graph_digest", "canonical"]

# Node properties that identify a node (its uniqueness key), per label.
KEYS = ("account_id", "instrument_id", "ip", "cidr", "device_id", "fingerprint", "domain", "name", "operator_id",
        "user_agent", "bin", "api_key_id", "owner", "org_id")


def canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def _key(labels: list[str], props: dict[str, Any]) -> str:
    ident = {k: props[k] for k in KEYS if k in props}
    return json.dumps([sorted(labels), canonical(ident)], sort_keys=True)


def graph_digest(db: Database) -> tuple[str, dict[str, int]]:
    """(sha256 of the canonical graph, counts of nodes and relationships)."""
    nodes = sorted(
        json.dumps([sorted(r["labels"]), canonical(r["props"])], sort_keys=True) for r in db.read("db/read_node_digest_rows")
    )
    rels = sorted(
        json.dumps(
            [_key(r["a_labels"], r["a_props"]), r["type"], canonical(r["props"]), _key(r["b_labels"], r["b_props"])],
            sort_keys=True,
        )
        for r in db.read("db/read_relationship_digest_rows")
    )
    h = hashlib.sha256()
    for line in nodes + ["--"] + rels:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest(), {"nodes": len(nodes), "relationships": len(rels)}
