"""Baselines on tiny hand-made pair tables; partitions compared as sets of account sets."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.contract import EXPORT_COLUMNS
from sybilgraph.evaluate import (
    attach_labels,
    evilcohort,
    fraud_rings,
    louvain,
    modularity,
    run_baselines,
)
from sybilgraph.evaluate.baselines import _effective_threshold, _projection_edges
from sybilgraph.evaluate.synthetic import synthetic_pairs


def partition(export: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(g["account_id"]) for _, g in export.groupby("operator_id")}


def flagged_partition(export: pd.DataFrame) -> set[frozenset[str]]:
    return partition(export[export["flagged"]])


def pairs_df(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "kind", "value"])


# --------------------------------------------------------------------------- fraud rings


RING_PAIRS = [
    ("u1", "card", "C1"), ("u2", "card", "C1"), ("u2", "device", "D1"), ("u3", "device", "D1"),
    ("u4", "ip", "10.0.0.1"), ("u5", "ip", "10.0.0.1"),
    ("u6", "ip", "10.9.9.9"),  # alone
    ("u8", "device", "X"), ("u9", "ip", "X"),  # same value, different kinds: no link
    ("u10", "email", "Z"), ("u11", "email", "Z"),  # kind not used by the recipe
    ("u3", "card", "C3"),  # unshared identifier of a ring member
]


def test_fraud_rings_partition_and_flags() -> None:
    run = fraud_rings(pairs_df(RING_PAIRS), min_ring_size=3)
    assert list(run.export.columns) == list(EXPORT_COLUMNS)
    assert partition(run.export) == {frozenset({"u1", "u2", "u3"}), frozenset({"u4", "u5"})}
    assert flagged_partition(run.export) == {frozenset({"u1", "u2", "u3"})}
    flagged = run.export.set_index("account_id")
    assert flagged.loc["u1", "campaign_score"] == 1.0 and flagged.loc["u4", "campaign_score"] == 0.0
    assert (run.export["confidence"] == 1.0).all()
    assert run.runtime_s >= 0 and run.details["clusters"] == 2
    assert run.details["largest_cluster"] == 3


def test_fraud_rings_default_size_20_and_arrow_input() -> None:
    # a chain r0 -d0- r1 -d1- ... r24: one ring of 25 accounts
    rows = [(f"r{i}", "device", f"d{i}") for i in range(24)] + [
        (f"r{i + 1}", "device", f"d{i}") for i in range(24)
    ]
    rows += [(f"s{i}", "card", "shared") for i in range(19)]  # 19 accounts: a ring, not flagged
    table = pa.Table.from_pandas(pairs_df(rows), preserve_index=False)
    run = fraud_rings(table)
    assert flagged_partition(run.export) == {frozenset(f"r{i}" for i in range(25))}
    assert frozenset(f"s{i}" for i in range(19)) in partition(run.export)
    assert run.export.loc[run.export["account_id"].str.startswith("s"), "flagged"].eq(False).all()


def test_fraud_rings_kind_filter_and_empty() -> None:
    run = fraud_rings(pairs_df(RING_PAIRS), kinds=("ip",), min_ring_size=2)
    assert partition(run.export) == {frozenset({"u4", "u5"})}
    empty = fraud_rings(pairs_df([]))
    assert empty.export.empty and list(empty.export.columns) == list(EXPORT_COLUMNS)


def test_operator_ids_do_not_depend_on_values() -> None:
    a = fraud_rings(pairs_df(RING_PAIRS), min_ring_size=3).export
    renamed = [(acc, kind, "v-" + val) for acc, kind, val in RING_PAIRS]
    b = fraud_rings(pairs_df(renamed), min_ring_size=3).export
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- projection


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_projection_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_acc, n_ip = int(rng.integers(2, 30)), int(rng.integers(1, 12))
    raw = {(int(a), int(i)) for a, i in zip(rng.integers(0, n_acc, 80), rng.integers(0, n_ip, 80))}
    acc = np.array([p[0] for p in raw], dtype=np.int64)
    ip = np.array([p[1] for p in raw], dtype=np.int64)
    deg = np.bincount(ip, minlength=n_ip)
    threshold = int(rng.integers(2, 10))
    small = (deg >= 2) & (deg <= threshold)
    u, v, w = _projection_edges(acc, ip, deg, small, n_acc, chunk_pairs=7)
    expected: dict[tuple[int, int], int] = {}
    for i in np.flatnonzero(small):
        members = sorted(a for a, j in raw if j == i)
        for x, y in itertools.combinations(members, 2):
            expected[(x, y)] = expected.get((x, y), 0) + 1
    assert dict(zip(zip(u.tolist(), v.tolist()), w.tolist())) == expected


def test_effective_threshold_respects_budget() -> None:
    deg = np.array([2] * 10 + [5] * 4 + [50] * 2)  # C(2,2)=1, C(5,2)=10, C(50,2)=1225
    assert _effective_threshold(deg, 100, 10_000) == 100
    assert _effective_threshold(deg, 100, 50) == 49  # 10 + 40 = 50 fits; adding 2450 does not
    assert _effective_threshold(deg, 100, 5) == 1  # not even the degree-2 IPs fit


# --------------------------------------------------------------------------- Louvain


def _partition_of(labels: np.ndarray) -> set[frozenset[int]]:
    out: dict[int, set[int]] = {}
    for node, lab in enumerate(labels.tolist()):
        out.setdefault(lab, set()).add(node)
    return {frozenset(s) for s in out.values()}


def test_louvain_ring_of_cliques() -> None:
    k, size = 8, 6
    edges = []
    for c in range(k):
        nodes = range(c * size, (c + 1) * size)
        edges += list(itertools.combinations(nodes, 2))
        edges.append((c * size, ((c + 1) % k) * size + 1))  # one bridge to the next clique
    u, v = np.array(edges).T
    labels = louvain(k * size + 2, u, v, seed=3)  # two isolated nodes at the end
    expected = {frozenset(range(c * size, (c + 1) * size)) for c in range(k)}
    expected |= {frozenset({k * size}), frozenset({k * size + 1})}
    assert _partition_of(labels) == expected


def test_louvain_weights_decide() -> None:
    # a square 0-1-2-3-0; heavy edges 0-1 and 2-3 -> {0,1} {2,3}; heavy 1-2, 3-0 -> {1,2} {3,0}
    u, v = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0])
    assert _partition_of(louvain(4, u, v, np.array([10.0, 1, 10, 1]))) == {frozenset({0, 1}), frozenset({2, 3})}
    assert _partition_of(louvain(4, u, v, np.array([1.0, 10, 1, 10]))) == {frozenset({1, 2}), frozenset({0, 3})}


def test_louvain_matches_networkx_quality_and_is_deterministic() -> None:
    rng = np.random.default_rng(5)
    n, m, k = 600, 5_000, 20
    comm = rng.integers(0, k, n)
    u = rng.integers(0, n, m)
    same = rng.random(m) < 0.7
    v = np.where(same, [rng.choice(np.flatnonzero(comm == comm[x])) for x in u], rng.integers(0, n, m))
    w = rng.integers(1, 4, m).astype(float)
    labels = louvain(n, u, v, w, seed=1)
    assert np.array_equal(labels, louvain(n, u, v, w, seed=1))
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for a, b, c in zip(u.tolist(), v.tolist(), w.tolist()):
        g.add_edge(a, b, weight=g[a][b]["weight"] + c if g.has_edge(a, b) else c)
    ours = modularity(n, u, v, w, labels)
    assert ours == pytest.approx(nx.community.modularity(g, _partition_of(labels)), abs=1e-9)
    theirs = nx.community.modularity(g, nx.community.louvain_communities(g, seed=1))
    assert ours >= theirs - 0.01


def test_louvain_input_checks_and_empty() -> None:
    assert louvain(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        louvain(2, np.array([0]), np.array([2]))
    with pytest.raises(ValueError):
        louvain(2, np.array([0]), np.array([1]), np.array([-1.0]))


# --------------------------------------------------------------------------- EvilCohort


def cohort_pairs() -> list[tuple[str, str, str]]:
    rows = []
    for g in ("a", "b"):  # two cohorts of 12 accounts, each on its own 3 IPs
        for i in range(12):
            rows += [(f"{g}{i}", "ip", f"{g}-ip{j}") for j in range(3)]
    rows.append(("a0", "ip", "b-ip0"))  # one bridge
    rows += [(f"h{i}", "ip", "home") for i in range(3)]  # a household of 3
    rows += [("a1", "device", "dev"), ("h0", "device", "dev")]  # devices are ignored
    rows.append(("lonely", "ip", "solo"))
    return rows


@pytest.mark.parametrize("engine", ["native", "networkx"])
def test_evilcohort_communities(engine: str) -> None:
    run = evilcohort(pairs_df(cohort_pairs()), engine=engine)  # type: ignore[arg-type]
    a = frozenset(f"a{i}" for i in range(12))
    b = frozenset(f"b{i}" for i in range(12))
    assert partition(run.export) == {a, b, frozenset({"h0", "h1", "h2"})}
    assert flagged_partition(run.export) == {a, b}
    assert run.details["hub_ips"] == 0


def test_evilcohort_hubs_star_and_drop() -> None:
    rows = cohort_pairs() + [(acc, "ip", "cgnat") for acc in
                             [f"a{i}" for i in range(12)] + [f"b{i}" for i in range(12)] + ["h0", "h1", "h2"]]
    dropped = evilcohort(pairs_df(rows), hub_threshold=20, hub_strategy="drop")
    assert dropped.details["hub_ips"] == 1
    a = frozenset(f"a{i}" for i in range(12))
    b = frozenset(f"b{i}" for i in range(12))
    assert flagged_partition(dropped.export) == {a, b}
    star = evilcohort(pairs_df(rows), hub_threshold=20, hub_strategy="star")
    assert star.details["hub_ips"] == 1
    assert star.details["graph_edges"] == star.details["projection_edges"] + 27
    # the hub node never appears; every exported row is a real account
    accounts = {r[0] for r in rows}
    assert set(star.export["account_id"]) <= accounts
    assert not star.export["account_id"].duplicated().any()


def test_evilcohort_min_account_ips() -> None:
    run = evilcohort(pairs_df(cohort_pairs()), min_account_ips=2)
    # household members use one IP each: left out
    assert not set(run.export["account_id"]) & {"h0", "h1", "h2"}


def test_evilcohort_bad_options() -> None:
    with pytest.raises(ValueError):
        evilcohort(pairs_df(cohort_pairs()), hub_strategy="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        evilcohort(pairs_df(cohort_pairs()), engine="igraph")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- labels, run_baselines


def test_attach_labels_majority() -> None:
    export = pd.DataFrame(
        {"account_id": ["x1", "x2", "x3", "y1"], "operator_id": ["X", "X", "X", "Y"],
         "operator_label": "", "confidence": 1.0, "campaign_score": 1.0, "flagged": True}
    )
    labels = pd.DataFrame({"account_id": ["x1", "x2", "x3", "zz"],
                           "operator_label": ["OP-B", "OP-A", "OP-B", "OP-C"]})
    out = attach_labels(export, labels)
    assert out.set_index("account_id")["operator_label"].to_dict() == {
        "x1": "OP-B", "x2": "OP-B", "x3": "OP-B", "y1": ""}
    tie = attach_labels(export, labels.iloc[:2])
    assert set(tie.loc[tie["operator_id"] == "X", "operator_label"]) == {"OP-A"}
    assert attach_labels(export, None) is export


def test_run_baselines_evaluates_both() -> None:
    rows = cohort_pairs()
    accounts = sorted({r[0] for r in rows})
    truth = pd.DataFrame(
        {"account_id": accounts,
         "operator": [("campA" if a.startswith("a") else "campB" if a.startswith("b")
                       else "hh" if a.startswith("h") else "") for a in accounts],
         "is_distillation": [a[0] in "ab" for a in accounts]}
    )
    labels = pd.DataFrame({"account_id": ["a3"], "operator_label": ["OP-A"]})
    runs = run_baselines(pairs_df(rows), truth, labels,
                         ring_options={"min_ring_size": 3}, cohort_options={"seed": 1})
    assert [r.name for r in runs] == ["fraud-rings", "evilcohort"]
    rings, cohorts = runs
    assert rings.evaluation is not None and cohorts.evaluation is not None
    assert rings.evaluation.runtime_s == rings.runtime_s
    # rings: the bridge a0-b-ip0 and the device a1-h0 glue everything into one ring
    assert rings.evaluation.fake_assignment.pair_recall == 1.0
    assert rings.evaluation.fake_assignment.ari < 1.0
    assert cohorts.evaluation.fake_assignment.ari == 1.0
    assert cohorts.evaluation.flagging.precision == 1.0 and cohorts.evaluation.flagging.recall == 1.0
    cov = {c.label: c.coverage for c in cohorts.evaluation.label_coverage}
    assert cov == {"OP-A": 1.0}


def test_synthetic_small_scale_smoke() -> None:
    data = synthetic_pairs(scale=0.01, seed=3)
    assert set(data.pairs.column_names) == {"account_id", "kind", "value"}
    runs = run_baselines(data.pairs, data.truth, data.labels)
    for run in runs:
        assert run.evaluation is not None
        assert run.evaluation.n_accounts == len(data.truth)
        assert run.evaluation.n_export_unknown == 0


@pytest.mark.slow
def test_scale_02_runtime_budget() -> None:
    data = synthetic_pairs(scale=0.2, seed=0)
    for run in run_baselines(data.pairs, data.truth, data.labels):
        assert run.runtime_s < 60, (run.name, run.runtime_s)


def test_louvain_dense_cliques_use_vector_path() -> None:
    size = 60  # degree 59 >= the vectorised threshold
    edges = list(itertools.combinations(range(size), 2))
    edges += list(itertools.combinations(range(size, 2 * size), 2))
    edges.append((0, size))
    u, v = np.array(edges).T
    labels = louvain(2 * size, u, v, seed=0)
    assert _partition_of(labels) == {frozenset(range(size)), frozenset(range(size, 2 * size))}


@pytest.mark.parametrize("vector_degree", [0, 10**9])
def test_louvain_both_inner_paths_reach_networkx_quality(
    monkeypatch: pytest.MonkeyPatch, vector_degree: int
) -> None:
    import sybilgraph.evaluate.community as lv

    monkeypatch.setattr(lv, "_VECTOR_DEGREE", vector_degree)
    rng = np.random.default_rng(11)
    n, m, k = 300, 12_000, 6
    comm = rng.integers(0, k, n)
    u = rng.integers(0, n, m)
    v = np.where(rng.random(m) < 0.5, [rng.choice(np.flatnonzero(comm == comm[x])) for x in u],
                 rng.integers(0, n, m))
    labels = lv.louvain(n, u, v, seed=2)
    g = nx.Graph()
    for a, b in zip(u.tolist(), v.tolist()):
        g.add_edge(a, b, weight=g[a][b]["weight"] + 1 if g.has_edge(a, b) else 1)
    g.add_nodes_from(range(n))
    ours = lv.modularity(n, u, v, np.ones(m), labels)
    theirs = nx.community.modularity(g, nx.community.louvain_communities(g, seed=2))
    assert ours >= theirs - 0.01
