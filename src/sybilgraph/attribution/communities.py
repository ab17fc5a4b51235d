"""Community detection on the account evidence graph with GDS: Leiden (Traag, Waltman & van Eck,
2019, "From Louvain to Leiden: guaranteeing well-connected communities"), weighted and seeded.

Leiden runs single-threaded with a fixed random seed: GDS only guarantees the same partition for
the same seed with concurrency 1, and re-runs on unchanged data must give the same operators.
The projection lives only inside ``detect_communities``: it is dropped on the way out, also when
the run fails, so no stray projection is left behind. Edges are the pairs whose match
probability reaches the Bayes decision (``grouping.edges_of``), weighted by their match weight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from sybilgraph.attribution.grouping import Edges
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.db.session import Database
from sybilgraph.timing import timed

__all__ = ["Communities", "detect_communities", "leiden_config", "project_edges"]

log = logging.getLogger("sybilgraph.attribution")


@dataclass(frozen=True)
class Communities:
    community: np.ndarray  # Leiden's label per account id, -1 for accounts without an edge
    # Steps (GDS projection, leiden, drop) in seconds: benchmarks report them apart.
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


def detect_communities(db: Database, edges: Edges, n_accounts: int, params: AttributionParams, graph_name: str) -> Communities:
    """Leiden on the account graph; accounts are the integer ids of ``pairs.PairTables``."""
    community = np.full(n_accounts, -1, dtype=np.int64)
    if len(edges) == 0:
        return Communities(community)
    timings: dict[str, float] = {}
    gds = db.gds()
    gds.graph.drop(graph_name, fail_if_missing=False)
    try:
        with timed(timings, "projection"):
            project_edges(db, edges, graph_name)
        with timed(timings, "leiden"):
            frame = gds.leiden.stream(gds.graph.get(graph_name), **leiden_config(params))
    finally:
        with timed(timings, "drop"):
            gds.graph.drop(graph_name, fail_if_missing=False)
    community[frame["nodeId"].to_numpy()] = frame["communityId"].to_numpy()
    return Communities(community, timings)


def project_edges(db: Database, edges: Edges, graph_name: str) -> None:
    """Project ``edges`` into GDS as ``graph_name`` (undirected, weighted); the caller drops it."""
    if len(edges):
        db.write(
            "attribution/project_evidence_graph",
            graph_name=graph_name,
            src=edges.a.tolist(),
            dst=edges.b.tolist(),
            weight=edges.weight.tolist(),
        )
