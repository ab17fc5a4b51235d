"""Candidate edges: hubs glue nobody, pools shared by a group add up, partitions as networkx sees them."""

from __future__ import annotations

import networkx as nx
import pyarrow as pa

from sybilgraph.attribution.candidates import candidate_edges
from sybilgraph.attribution.params import AttributionParams


def _links(rows: list[tuple[str, str, str]], count: int | None = 20) -> pa.Table:
    counts: dict[tuple[str, str], int] = {}
    for _, k, v in rows:
        counts[(k, v)] = counts.get((k, v), 0) + 1
    return pa.table(
        {
            "account_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "n_accounts": [counts[(r[1], r[2])] for r in rows],
            **({"count": [count] * len(rows)} if count is not None else {}),
        }
    )


def _components(edges: pa.Table) -> set[frozenset[str]]:
    g = nx.Graph()
    g.add_edges_from(zip(edges["src"].to_pylist(), edges["dst"].to_pylist()))
    return {frozenset(c) for c in nx.connected_components(g)}


def test_shared_card_links_and_hub_ip_does_not() -> None:
    rows = [("a1", "card", "c1"), ("a2", "card", "c1"), ("a3", "card", "c1")]
    rows += [(f"s{i}", "ip", "nat") for i in range(500)] + [("a1", "ip", "nat")]
    edges = candidate_edges(_links(rows), n_total=2_000, params=AttributionParams())
    assert _components(edges) == {frozenset({"a1", "a2", "a3"})}


def test_template_pool_of_a_group_accumulates_but_popular_template_and_browser_do_not() -> None:
    group = [f"op{i:03d}" for i in range(200)]
    strangers = [f"u{i:04d}" for i in range(400)]
    rows = [(a, "template", f"pool{t}") for a in group for t in range(20)]
    rows += [(a, "tls", "automation-client") for a in group]
    rows += [(a, "template", "popular") for a in strangers]
    rows += [(a, "tls", "rare-browser") for a in strangers[:300]]
    params = AttributionParams(hub_min_accounts=1_000, exact_max_accounts=16, window=5)
    edges = candidate_edges(_links(rows), n_total=10_000, params=params)
    nodes = set(edges["src"].to_pylist()) | set(edges["dst"].to_pylist())
    assert nodes == set(group)
    assert len(_components(edges)) == 1


def test_edges_are_ordered_pairs_without_duplicates() -> None:
    rows = [(a, "device", "d") for a in ("x", "y", "z")] + [(a, "card", "c") for a in ("x", "y")]
    edges = candidate_edges(_links(rows), n_total=1_000, params=AttributionParams())
    pairs = list(zip(edges["src"].to_pylist(), edges["dst"].to_pylist()))
    assert all(s < d for s, d in pairs) and len(pairs) == len(set(pairs)) == 3
    xy = pairs.index(("x", "y"))
    assert edges["kinds"].to_pylist()[xy] == ["card", "device"]


def test_campus_ip_alone_does_not_glue_strangers_but_a_home_ip_links() -> None:
    campus = [f"st{i:03d}" for i in range(300)]
    rows = [(a, "ip", f"campus{k}") for a in campus for k in range(3)]
    rows += [("h1", "ip", "home"), ("h2", "ip", "home")]
    edges = candidate_edges(_links(rows), n_total=100_000, params=AttributionParams())
    assert _components(edges) == {frozenset({"h1", "h2"})}


def test_a_few_shared_templates_do_not_link_but_a_private_pool_does() -> None:
    pool_users = [f"op{i:03d}" for i in range(30)]
    rows = [(a, "template", f"pool{t}") for a in pool_users for t in range(20)]
    rows += [(a, "template", f"tail{t}") for a in ("u1", "u2") for t in range(2)]
    edges = candidate_edges(_links(rows), n_total=10_000, params=AttributionParams())
    nodes = set(edges["src"].to_pylist()) | set(edges["dst"].to_pylist())
    assert nodes == set(pool_users)


def test_identifiers_used_once_weigh_less_than_habits() -> None:
    rows = [("a", "ip", "x"), ("b", "ip", "x")]
    links = _links(rows, count=None)
    once = candidate_edges(links.append_column("count", pa.array([1, 1])), 100_000, AttributionParams())
    habit = candidate_edges(links.append_column("count", pa.array([50, 80])), 100_000, AttributionParams())
    assert once.num_rows == 0  # both passed through the same IP once: a coincidence
    assert habit.num_rows == 1  # both live on that line
