"""The evidence drawing's summary: identifier pools become one node, members group by the identifiers
they use, the smallest groups fold, and the two-row layout is deterministic with few crossings."""

from __future__ import annotations

from itertools import combinations

from sybilgraph.report.evidence_graph import EvidenceGraph, summarise, two_row_layout
from sybilgraph.report.model import IdentifierRow


def _row(kind: str, value: str, members: set[str], weight: float = 2.0) -> IdentifierRow:
    return IdentifierRow(kind=kind, shown=value, n_accounts=len(members), members_sharing=len(members),
                         weight=weight, first_seen=None, last_seen=None, members=frozenset(members))


def _accounts(lo: int, hi: int) -> set[str]:
    return {f"a{i:03d}" for i in range(lo, hi)}


def test_templates_used_by_nearly_the_same_members_become_one_node() -> None:
    pool = [_row("template", f"t{i}", _accounts(0, 40) - {f"a{i:03d}"}) for i in range(5)]
    card = _row("card", "c1", _accounts(30, 60), weight=5.0)
    g = summarise(60, [card, *pool])
    assert [(n.kind, len(n.rows)) for n in g.identifiers] == [("template", 5), ("card", 1)]
    assert g.identifiers[0].label.startswith("5 prompt templates")
    assert sum(n for _, n in g.groups) == 60 and g.untied == 0
    # accounts 30-39 use both nodes, 0-29 only the templates, 40-59 only the card
    assert sorted(n for _, n in g.groups) == [10, 20, 30]


def test_members_no_kept_identifier_touches_are_counted_not_drawn() -> None:
    g = summarise(100, [_row("device", "d1", _accounts(0, 30))])
    assert g.untied == 70 and sum(n for _, n in g.groups) == 30


def test_small_operators_keep_one_node_per_account() -> None:
    g = summarise(3, [_row("card", "c1", {"x", "y"}), _row("ip", "10.0.0.1", {"y", "z"})])
    assert sorted(a for a in g.single_accounts if a) == ["x", "y", "z"]


def test_the_smallest_groups_fold_into_one() -> None:
    rows = [_row("ip", f"ip{i}", _accounts(i * 10, i * 10 + 10 + i)) for i in range(8)]
    g = summarise(200, rows, max_groups=5)
    assert len(g.groups) == 5 and g.other_groups > 0
    assert sum(n for _, n in g.groups) == len(frozenset().union(*(r.members for r in rows)))


def _crossings(g: EvidenceGraph, pos: dict[tuple[str, int], tuple[float, float]]) -> int:
    edges = [(pos[("id", i)][0], pos[("group", j)][0]) for j, (used, _) in enumerate(g.groups) for i in used]
    return sum(1 for (a, b), (c, d) in combinations(edges, 2) if (a - c) * (b - d) < 0)


def test_the_layout_is_deterministic_and_untangles() -> None:
    # Two separate rings of identifiers and members, interleaved in the input order.
    rows = [_row("card", f"c{i}", _accounts(0, 20) if i % 2 else _accounts(20, 40)) for i in range(4)]
    g = summarise(40, rows, max_nodes=4)
    pos = two_row_layout(g)
    assert pos == two_row_layout(g)
    assert _crossings(g, pos) == 0
