"""From communities to operators: membership, per-account confidence and evidence (pure).

An account's confidence combines how much of its evidence points into its operator (purity)
with how much evidence there is at all (strength): an account tied to its operator by one
borderline pair is less certain than one tied by a dozen cards and devices. The raw score is
mapped through the calibration in ``calibration.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.attribution.calibration import calibrate
from sybilgraph.attribution.communities import Communities
from sybilgraph.attribution.merging import MergeRule, merge_split_communities
from sybilgraph.attribution.params import AttributionParams

__all__ = ["Cluster", "build_clusters", "EvidenceItem"]


@dataclass(frozen=True)
class EvidenceItem:
    kind: str
    value: str
    members_sharing: int  # members of the operator that use it
    n_accounts: int  # accounts that use it anywhere
    weight: float  # evidence weight of one shared use (weights.py)


@dataclass
class Cluster:
    key: int  # community id of this run (not stable; operator ids are assigned by matching)
    members: list[str]
    confidence: dict[str, float] = field(default_factory=dict)
    raw_confidence: dict[str, float] = field(default_factory=dict)
    internal_weight: float = 0.0


def build_clusters(communities: Communities, edges: pa.Table, params: AttributionParams) -> list[Cluster]:
    if not communities.account_ids:
        return []
    ids = pa.array(communities.account_ids, pa.string())
    src = pc.index_in(edges.column("src"), value_set=ids).to_numpy().astype(np.int64)
    dst = pc.index_in(edges.column("dst"), value_set=ids).to_numpy().astype(np.int64)
    w = edges.column("weight").to_numpy()
    comm = merge_split_communities(communities.community, src, dst, w, merge_rule(params))
    same = comm[src] == comm[dst]
    n = len(communities.account_ids)
    total = np.bincount(src, weights=w, minlength=n) + np.bincount(dst, weights=w, minlength=n)
    inside = np.bincount(src[same], weights=w[same], minlength=n) + np.bincount(dst[same], weights=w[same], minlength=n)
    raw = raw_confidence(inside, total, params)
    internal = np.bincount(comm[src[same]], weights=w[same], minlength=int(comm.max()) + 1)

    order = np.argsort(comm, kind="stable")
    clusters: list[Cluster] = []
    bounds = np.flatnonzero(np.diff(comm[order])) + 1
    for group in np.split(order, bounds):
        group = _core(group, inside, params)
        if len(group) < params.min_operator_size:
            continue
        members = sorted(communities.account_ids[i] for i in group)
        c = Cluster(key=int(comm[group[0]]), members=members, internal_weight=float(internal[comm[group[0]]]))
        for i in group:
            a = communities.account_ids[i]
            c.raw_confidence[a] = float(raw[i])
            c.confidence[a] = calibrate(float(raw[i]))
        clusters.append(c)
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


def merge_rule(params: AttributionParams) -> MergeRule:
    return MergeRule(
        min_size=params.merge_min_size,
        min_density_ratio=params.merge_min_density_ratio,
        min_cross_edges_per_member=params.merge_min_cross_edges_per_member,
    )


def _core(group: np.ndarray, inside: np.ndarray, params: AttributionParams) -> np.ndarray:
    """Members tied to their community far more weakly than its typical member are left out.

    A community optimised for modularity absorbs accounts hanging on by one thread: a household
    whose line an operator's residential proxy also used. Its typical member is tied by dozens of
    cards, devices and templates; such an account by one IP.
    """
    if len(group) < params.core_min_size:
        return group
    typical = float(np.median(inside[group]))
    return group[inside[group] >= params.core_ratio * typical]


def raw_confidence(inside: np.ndarray, total: np.ndarray, params: AttributionParams) -> np.ndarray:
    purity = np.divide(inside, total, out=np.zeros_like(inside), where=total > 0)
    strength = 1.0 - np.exp(-inside / (2.0 * params.min_edge_weight))
    return purity * strength


def operator_evidence(
    members: list[str], weighted_links: pa.Table, top: int = 10
) -> list[EvidenceItem]:
    """The identifiers most members share, heaviest first: what ties the operator together."""
    mask = pc.is_in(weighted_links["account_id"], value_set=pa.array(members, pa.string()))
    part = weighted_links.filter(mask)
    if part.num_rows == 0:
        return []
    grouped = part.group_by(["kind", "value"]).aggregate(
        [("account_id", "count"), ("n_accounts", "max"), ("w", "max")]
    )
    items = [
        EvidenceItem(k, v, int(m), int(n), float(w))
        for k, v, m, n, w in zip(
            grouped["kind"].to_pylist(),
            grouped["value"].to_pylist(),
            grouped["account_id_count"].to_pylist(),
            grouped["n_accounts_max"].to_pylist(),
            grouped["w_max"].to_pylist(),
        )
        if m >= 2
    ]
    items.sort(key=lambda e: (-e.members_sharing * e.weight, e.kind, e.value))
    return items[:top]
