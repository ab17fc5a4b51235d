from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.attribution.matching import match_operators, new_operator_id


def test_unchanged_membership_keeps_ids() -> None:
    prev = {"op-a": ["1", "2", "3"], "op-b": ["4", "5"]}
    r = match_operators([["4", "5"], ["1", "2", "3"]], prev)
    assert r.ids == ["op-b", "op-a"]
    assert r.lineage == [] and r.retired == []


def test_growth_keeps_id() -> None:
    prev = {"op-a": [str(i) for i in range(10)]}
    r = match_operators([[str(i) for i in range(11)]], prev)
    assert r.ids == ["op-a"]


def test_split_records_lineage() -> None:
    prev = {"op-a": [str(i) for i in range(10)]}
    r = match_operators([[str(i) for i in range(7)], [str(i) for i in range(7, 10)]], prev)
    assert r.ids[0] == "op-a"
    assert r.ids[1] not in prev
    assert [(x.kind, x.child, x.parent, x.shared) for x in r.lineage] == [("split", r.ids[1], "op-a", 3)]


def test_merge_records_lineage() -> None:
    prev = {"op-a": ["1", "2", "3", "4"], "op-b": ["5", "6", "7"]}
    r = match_operators([["1", "2", "3", "4", "5", "6", "7"]], prev)
    assert r.ids == ["op-a"]
    assert [(x.kind, x.child, x.parent, x.shared) for x in r.lineage] == [("merge", "op-b", "op-a", 3)]
    assert r.retired == []


def test_vanished_operator_is_retired() -> None:
    r = match_operators([["9", "10"]], {"op-a": ["1", "2"]})
    assert r.retired == ["op-a"]
    assert r.ids == [new_operator_id(["9", "10"])]


def test_new_ids_depend_only_on_members() -> None:
    assert new_operator_id(["b", "a"]) == new_operator_id(["a", "b"])
    assert match_operators([["a", "b"]], {}).ids == match_operators([["b", "a"]], {}).ids


@given(st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=12, unique=True), min_size=1, max_size=8))
def test_ids_are_unique_and_reruns_are_stable(raw: list[list[int]]) -> None:
    seen: set[int] = set()
    clusters = []
    for c in raw:
        members = [str(x) for x in c if x not in seen]
        seen.update(c)
        if members:
            clusters.append(members)
    first = match_operators(clusters, {})
    assert len(set(first.ids)) == len(first.ids)
    again = match_operators(clusters, dict(zip(first.ids, clusters)))
    assert again.ids == first.ids
