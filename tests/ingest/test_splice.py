"""A splice of the last state equals combining every live delivery, after any delivery sequence.

Pure logic (DuckDB over a columnar store, no Neo4j): random deliveries, redeliveries and
withdrawals are staged; after each, the state spliced from the previous one (``plan_state``)
must equal the state combined from scratch, table by table, and the graph difference limited to
the splice's keys must equal the whole-table difference; and the saved generation (a base
file and, for a splice, an overlay) must read back as the combined state. A low hub cut-off makes identifiers
cross it as the account total moves.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sybilgraph.ingest.columnar import PARQUET_OPTIONS, ColumnarStore
from sybilgraph.ingest.pipeline import refresh_partials
from sybilgraph.ingest.plan import plan_state
from sybilgraph.ingest.state import STATE_SCHEMAS, StateDir
from sybilgraph.ingest.sync import graph_delta
from sybilgraph.settings import Settings
from tests.ingest.deliveries import delivery, write_delivery
from tests.ingest.staging import stage

BUNDLE_IDS = ("A", "B", "C", "D")

step = st.one_of(
    st.tuples(st.just("deliver"), st.sampled_from(BUNDLE_IDS), st.integers(0, 10_000), st.integers(0, 4).map(lambda n: n == 0)),
    st.tuples(st.just("withdraw"), st.sampled_from(BUNDLE_IDS), st.just(0), st.just(False)),
)


def _settings(home: Path) -> Settings:
    """A hub cut-off of max(2, a fifth of the accounts): identifiers cross it both ways as
    deliveries come and go."""
    base = Settings(home=home)
    ingest = base.ingest.model_copy(update={"link_max_share": 0.2, "link_hub_min_accounts": 2})
    return base.model_copy(update={"ingest": ingest})


ACCOUNTS = [f"wide-{i:02d}" for i in range(40)]


def _wide_delivery(seed: int) -> dict[str, list[dict[str, Any]]]:
    """A delivery of a few of 40 accounts, each with its own habits over pools of identifiers
    and a device shared with a fifth of the accounts: most identifiers of the store are then
    untouched by one delivery, and the shared devices cross the moving hub cut-off without the
    delivery touching them."""
    rng = random.Random(seed)
    tables = delivery(seed, accounts=rng.sample(ACCOUNTS, rng.randint(1, 6)))
    for row in tables["interactions"]:
        habit = random.Random(f"{row['account_id']}-{rng.randint(0, 1)}")
        # Five clubs of about a fifth of the accounts each, right at the hub cut-off.
        club = int(row["account_id"].rsplit("-", 1)[1]) % 5
        row.update(ip=f"10.9.{habit.randint(0, 3)}.{habit.randint(1, 4)}", device_id=f"club-{club}",
                   prompt_fingerprint=f"{habit.randint(1, 12):016x}")
    for row in tables["sessions"]:
        row["session_id"] = f"{row['account_id']}-{row['session_id']}"  # ids repeat per account only
    return tables


def _rows(table: pa.Table) -> list[str]:
    return sorted(map(repr, table.to_pylist()))


def _apply(store: ColumnarStore, settings: Settings, work: Path, n: int, op: tuple[str, str, int, bool]) -> bool:
    """Stage one step; False when it changes nothing (a withdrawal of what is not live)."""
    kind, bundle_id, seed, keep_owners = op
    if kind == "withdraw":
        return store.withdraw(bundle_id) is not None
    tables = _wide_delivery(seed) if seed % 4 else delivery(seed)
    if not keep_owners:
        tables.pop("ip_owners", None)  # most deliveries leave the ranges alone: those can splice
    stage(store, write_delivery(work / f"step{n}", bundle_id, tables), settings)
    return True


def _check_step(store: ColumnarStore, settings: Settings, tally: Counter[str]) -> None:
    refresh_partials(store, settings)
    state = StateDir(store.state_dir)
    spliced = plan_state(store, settings, max_share=float("inf"))  # a splice wherever one can run
    full = plan_state(store, settings, full=True)
    tally["splice" if spliced.scope is not None else "combine"] += 1
    if spliced.scope is not None:
        tally["flips"] += spliced.hub_flips
        within = graph_delta(store.connect, state, spliced.tables, False)
        whole = graph_delta(store.connect, state, full.tables, False)
        for name in whole.upserts:
            assert _rows(within.upserts[name]) == _rows(whole.upserts[name]), f"upserts of {name}"
            assert _rows(within.deletes[name]) == _rows(whole.deletes[name]), f"deletes of {name}"
    state.write(spliced.tables, PARQUET_OPTIONS, store.revision(), spliced.deliveries)
    # What readers see of the saved generation (a base, with or without an overlay) is the state
    # combined from scratch, in key order.
    for name in STATE_SCHEMAS:
        assert state.read(name).equals(full.tables[name]), f"{name} after {spliced.how}"
    tally["overlays"] += state.has_overlay("account_identifiers")


def test_splice_equals_combine_over_random_delivery_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    # Overlays up to half the base: with a few of 40 accounts per delivery, some changes stay
    # overlays (and stack up) and others fold into a new base.
    monkeypatch.setattr("sybilgraph.ingest.state.COMPACT_SHARE", 0.5)
    tally: Counter[str] = Counter()

    @settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(ops=st.lists(step, min_size=4, max_size=8))
    def run(ops: list[tuple[str, str, int, bool]]) -> None:
        with tempfile.TemporaryDirectory(prefix="splice-") as tmp:
            work = Path(tmp)
            settings_ = _settings(work / "home")
            store = ColumnarStore(settings_.columnar_dir)
            for n, op in enumerate(ops):
                if _apply(store, settings_, work, n, op):
                    _check_step(store, settings_, tally)

    run()
    # The property is only worth its name if both paths and the moving hub cut-off ran.
    assert tally["splice"] > 0 and tally["combine"] > 0 and tally["flips"] > 0, tally
    assert 0 < tally["overlays"] < tally["splice"], tally
