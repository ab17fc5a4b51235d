"""Community detection on the account evidence graph with GDS: Leiden (Traag, Waltman & van Eck,
2019, "From Louvain to Leiden: guaranteeing well-connected communities"), weighted and seeded.

Leiden runs single-threaded with a fixed random seed: GDS only guarantees the same partition for
the same seed with concurrency 1, and re-runs on unchanged data must give the same operators.
The projection lives only inside ``detect_communities``: it is dropped on the way out, also when
the run fails, so no stray projection is left behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from sybilgraph.attribution.params import AttributionParams
from sybilgraph.db.session import Database
from sybilgraph.timing import timed

__all__ = ["Communities", "detect_communities", "leiden_config", "project_edges"]

log = logging.getLogger("sybilgraph.attribution")


@dataclass(frozen=True)
class Communities:
    account_ids: list[str]  # index = node id in the projection
    community: np.ndarray  # community per node id
    modularity: float | None
    levels: int | None
    # Steps (ids, GDS projection, leiden, drop) in seconds: benchmarks report them apart.
    timings_s: dict[str, float] = field(default_factory=dict)


def leiden_config(params: AttributionParams) -> dict[str, object]:
    """Leiden's settings: seeded and single-threaded, the only way GDS repeats a partition."""
    return {
        "relationship_weight_property": "weight",
        "random_seed": params.seed,
        "concurrency": 1,
        "gamma": params.leiden_gamma,
        "max_levels": params.leiden_max_levels,
        "log_progress": False,
    }


def detect_communities(db: Database, edges: pa.Table, params: AttributionParams, graph_name: str) -> Communities:
    if edges.num_rows == 0:
        return Communities([], np.zeros(0, dtype=np.int64), None, None)
    timings: dict[str, float] = {}
    with timed(timings, "ids"):
        ids, src, dst = _integer_ids(edges)
    gds = db.gds()
    gds.graph.drop(graph_name, fail_if_missing=False)
    try:
        with timed(timings, "projection"):
            _project(db, graph_name, src, dst, edges)
        with timed(timings, "leiden"):
            frame = gds.leiden.stream(gds.graph.get(graph_name), **leiden_config(params))
    finally:
        with timed(timings, "drop"):
            gds.graph.drop(graph_name, fail_if_missing=False)
    community = np.full(len(ids), -1, dtype=np.int64)
    community[frame["nodeId"].to_numpy()] = frame["communityId"].to_numpy()
    return Communities(ids, community, None, None, timings)


def project_edges(db: Database, edges: pa.Table, graph_name: str) -> list[str]:
    """Project ``edges`` into GDS as ``graph_name`` the way attribution does; node id -> account id.

    The caller drops the projection. No edges: nothing is projected and the list is empty.
    """
    ids, src, dst = _integer_ids(edges)
    if ids:
        _project(db, graph_name, src, dst, edges)
    return ids


def _project(db: Database, graph_name: str, src: np.ndarray, dst: np.ndarray, edges: pa.Table) -> None:
    db.write(
        "attribution/project_evidence_graph",
        graph_name=graph_name,
        src=src.tolist(),
        dst=dst.tolist(),
        weight=edges.column("weight").to_pylist(),
    )


def _integer_ids(edges: pa.Table) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Dense integer ids for the accounts of ``edges``, in sorted account-id order."""
    if edges.num_rows == 0:
        return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    src = edges.column("src").to_numpy(zero_copy_only=False).astype(object)
    dst = edges.column("dst").to_numpy(zero_copy_only=False).astype(object)
    ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(src)
    return [str(x) for x in ids], inverse[:n].astype(np.int64), inverse[n:].astype(np.int64)
