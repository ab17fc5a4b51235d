"""What a sync writes: whether the graph holds the saved state it diffs against, and which links
it may CREATE (no database: DuckDB over state files)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from sybilgraph.ingest.state import GRAPH_TABLES, STATE_SCHEMAS, StateDir
from sybilgraph.ingest.sync import GraphMark, graph_delta, state_mismatch


def test_a_graph_holding_the_saved_state_or_one_generation_more_matches() -> None:
    assert state_mismatch(GraphMark("L", 4), "L", 4) is None
    # a sync killed after its graph write and before the state's: its keys are pending
    assert state_mismatch(GraphMark("L", 5), "L", 4) is None


def test_no_saved_state_needs_no_record_but_another_homes_graph_is_said() -> None:
    assert state_mismatch(None, None, 0) is None
    assert "this home does not have" in (state_mismatch(GraphMark("L", 3), None, 0) or "")


def test_an_emptied_graph_another_or_an_older_one_does_not_match() -> None:
    assert "no record" in (state_mismatch(None, "L", 4) or "")
    assert "another saved state" in (state_mismatch(GraphMark("M", 4), "L", 4) or "")
    assert "older" in (state_mismatch(GraphMark("L", 3), "L", 4) or "")


def _links(*rows: tuple[str, str, str, int]) -> pa.Table:
    return pa.Table.from_pylist([{"account_id": a, "kind": k, "value": v, "count": c, "first_seen": 1, "last_seen": 2}
                                 for a, k, v, c in rows], schema=STATE_SCHEMAS["links"])


def _target(links: pa.Table) -> dict[str, pa.Table]:
    return {name: links if name == "links" else STATE_SCHEMAS[name].empty_table() for name in GRAPH_TABLES}


def test_links_the_graph_cannot_hold_are_marked_created(tmp_path: Path) -> None:
    # The graph holds the saved state but for pending keys: a link whose key neither has is new
    # (CREATE); one the state holds, or a killed sync may have written, may exist (MERGE).
    state = StateDir(tmp_path / "state")
    state.write(_target(_links(("a1", "ip", "1.1.1.1", 3), ("a1", "ip", "2.2.2.2", 1))), {})
    target = _target(_links(("a1", "ip", "1.1.1.1", 3),      # unchanged: not written
                            ("a1", "ip", "2.2.2.2", 5),      # changed: MERGE
                            ("a1", "ip", "3.3.3.3", 1),      # new: CREATE
                            ("a2", "ip", "1.1.1.1", 1),      # new account's: CREATE
                            ("a2", "ip", "9.9.9.9", 1)))     # new, but a killed sync may have written it
    forced = {"links": pa.table({"account_id": ["a2"], "kind": ["ip"], "value": ["9.9.9.9"]})}
    connect = duckdb.connect
    delta = graph_delta(connect, state, target, full_write=False, forced=forced)
    marked = dict(zip(((r["account_id"], r["value"]) for r in delta.upserts["links"].to_pylist()),
                      delta.created["links"].to_pylist(), strict=True))
    assert marked == {("a1", "2.2.2.2"): False, ("a1", "3.3.3.3"): True, ("a2", "1.1.1.1"): True, ("a2", "9.9.9.9"): False}
    # A full write may face a graph that does not hold the state: nothing is CREATEd.
    assert "links" not in graph_delta(connect, state, target, full_write=True).created
