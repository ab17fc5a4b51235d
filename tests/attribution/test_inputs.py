"""Attribution's inputs read ingest's state without the account-template rows: nothing it decides
may change by that (control epochs are the rows' only user besides IP-based organisation ties)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.attribution.epochs import control_changes
from sybilgraph.attribution.inputs import STATE_ROWS
from sybilgraph.ingest.state import STATE_SCHEMAS, StateDir

DAY = 86_400_000
T0 = 1_767_225_600_000


def _identifiers(seed: int, n_accounts: int = 300) -> pa.Table:
    """account_identifiers of a crowd with takeovers (client and network switch at once), with
    every account also using templates, some of them popular (used by most accounts)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, int, int, int]] = []
    for i in range(n_accounts):
        a = f"acc{i:04d}"
        switch = int(rng.integers(30, 150)) if rng.random() < 0.2 else None
        for kind in ("device", "tls", "ip", "subnet"):
            if switch is None:
                rows.append((a, kind, f"{kind}-{rng.integers(0, n_accounts)}", 0, 200, 5))
            else:
                rows.append((a, kind, f"{kind}-old-{i}", 0, switch - 1, 5))
                rows.append((a, kind, f"{kind}-new-{i}", switch, 200, 5))
        rows.append((a, "email_domain", f"d{i % 7}.example", 0, 0, 1))
        for t in rng.choice(40, size=int(rng.integers(1, 12)), replace=False):
            first = int(rng.integers(0, 200))
            rows.append((a, "template", f"tpl-{t}", first, int(rng.integers(first, 201)), int(rng.integers(1, 30))))
        rows.append((a, "template", "tpl-popular", 0, 200, 50))
    return pa.table({
        "account_id": [r[0] for r in rows],
        "kind": [r[1] for r in rows],
        "value": [r[2] for r in rows],
        "count": pa.array([r[5] for r in rows], pa.int64()),
        "first_seen": pa.array([T0 + r[3] * DAY for r in rows], pa.int64()),
        "last_seen": pa.array([T0 + r[4] * DAY for r in rows], pa.int64()),
    })


def test_control_epochs_are_the_same_without_template_rows() -> None:
    for seed in range(5):
        full = _identifiers(seed)
        con = duckdb.connect()
        con.register("identifiers", full)
        without = con.sql(f"SELECT * FROM identifiers WHERE {STATE_ROWS['account_identifiers']}").to_arrow_table()
        assert without.num_rows < full.num_rows
        got, want = control_changes(without), control_changes(full)
        assert want.num_rows > 0
        assert got.equals(want)


def test_state_tables_are_read_with_the_rows_a_reader_keeps(tmp_path: Path) -> None:
    full = _identifiers(0).cast(STATE_SCHEMAS["account_identifiers"].remove_metadata())
    state = StateDir(tmp_path / "graph_state")
    state.write({"account_identifiers": full}, {})
    got = state.read("account_identifiers", rows=STATE_ROWS["account_identifiers"])
    assert "template" not in set(got.column("kind").to_pylist())
    assert got.num_rows == full.filter(pc.field("kind") != "template").num_rows
    assert state.read("account_identifiers").num_rows == full.num_rows
