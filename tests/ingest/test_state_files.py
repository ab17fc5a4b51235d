"""A state generation written ahead and published later (the bulk load saves its state while the
server starts): nothing reads it before, and a writer killed in between leaves the old state."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from sybilgraph.ingest.state import STATE_SCHEMAS, StateDir


def _accounts(*ids: str) -> pa.Table:
    schema = STATE_SCHEMAS["accounts"]
    return pa.table({f.name: pa.array([i if f.name == "account_id" else None for i in ids], f.type) for f in schema},
                    schema=schema)


def test_a_prepared_generation_is_read_only_once_published(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "graph_state")
    state.write({"accounts": _accounts("a1")}, {}, revision=1)
    prepared = state.prepare({"accounts": _accounts("a1", "a2")}, {})
    assert state.read("accounts").column("account_id").to_pylist() == ["a1"]
    assert state.source_revision() == 1
    assert state.publish(prepared, revision=2) == 2
    assert state.read("accounts").column("account_id").to_pylist() == ["a1", "a2"]
    assert state.source_revision() == 2


def test_a_generation_never_published_is_replaced_by_the_next_write(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "graph_state")
    state.write({"accounts": _accounts("a1")}, {}, revision=1)
    state.prepare({"accounts": _accounts("killed")}, {})  # the writer dies before publishing
    assert state.read("accounts").column("account_id").to_pylist() == ["a1"]
    assert state.write({"accounts": _accounts("a1", "a3")}, {}, revision=3) == 2
    assert state.read("accounts").column("account_id").to_pylist() == ["a1", "a3"]
    assert sorted(p.name for p in state.root.glob("gen-*")) == ["gen-00000001", "gen-00000002"]
