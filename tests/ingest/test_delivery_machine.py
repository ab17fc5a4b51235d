"""Any sequence of deliveries, redeliveries and withdrawals ends in the graph of one clean ingest.

A hypothesis state machine against the real Neo4j: each step delivers a random bundle under one
of three ids (a redelivery when the id is live), delivers a live bundle's very same files again,
or withdraws a live id. After the sequence, the graph digest must equal the digest of a clean
ingest, into an empty graph and store, of the deliveries still live, in the order they became
live. SYBILGRAPH_STATEFUL_EXAMPLES sets how many sequences are tried (default 5).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from sybilgraph.db.admin import reset
from sybilgraph.db.digest import graph_digest
from sybilgraph.db.session import Database
from sybilgraph.identifiers import KINDS
from sybilgraph.ingest import ingest_bundle, withdraw_bundle
from sybilgraph.ingest.state import read_state
from tests.ingest.deliveries import delivery, write_delivery

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUNDLE_IDS = ("A", "B", "C")
EXAMPLES = int(os.environ.get("SYBILGRAPH_STATEFUL_EXAMPLES", "5"))


def _graph_links(db: Database) -> set[tuple[str, str, str, int]]:
    links = set()
    for kind in KINDS.values():
        rows = db.read_raw(
            f"MATCH (a:Account)-[r:{kind.rel}]->(n:{kind.label}) RETURN a.account_id AS a, n.{kind.key} AS v, r.count AS c"
        )
        links |= {(r["a"], kind.name, r["v"], r["c"]) for r in rows}
    return links


def test_any_sequence_of_deliveries_matches_a_clean_ingest(db: Database, tmp_path: Path) -> None:
    counter = itertools.count()

    class Deliveries(RuleBasedStateMachine):
        @initialize()
        def fresh(self) -> None:
            reset(db)
            self.n = next(counter)
            self.settings = db.settings.model_copy(update={"home": tmp_path / f"run{self.n}" / "home"})
            self.db = Database(self.settings, driver=db.driver)
            self.live: dict[str, Path] = {}  # bundle id -> files, in the order they became live
            self.steps = 0

        def _bundle(self, bundle_id: str, seed: int) -> Path:
            self.steps += 1
            return write_delivery(tmp_path / f"run{self.n}" / f"step{self.steps}", bundle_id, delivery(seed))

        @rule(bundle_id=st.sampled_from(BUNDLE_IDS), seed=st.integers(0, 10_000))
        def deliver(self, bundle_id: str, seed: int) -> None:
            path = self._bundle(bundle_id, seed)
            report = ingest_bundle(path, self.settings, self.db)
            assert report.bundle_id == bundle_id
            self.live.pop(bundle_id, None)
            self.live[bundle_id] = path

        @precondition(lambda self: bool(self.live))
        @rule(data=st.data())
        def deliver_the_same_again(self, data: st.DataObject) -> None:
            bundle_id = data.draw(st.sampled_from(sorted(self.live)))
            report = ingest_bundle(self.live[bundle_id], self.settings, self.db)
            assert report.reused_staging and sum(report.graph_writes.values()) == 0

        @precondition(lambda self: bool(self.live))
        @rule(data=st.data())
        def withdraw(self, data: st.DataObject) -> None:
            bundle_id = data.draw(st.sampled_from(sorted(self.live)))
            withdraw_bundle(bundle_id, self.settings, self.db)
            del self.live[bundle_id]

        @invariant()
        def state_is_the_graph(self) -> None:
            if not self.steps:
                return
            state = read_state(self.settings)
            assert _graph_links(self.db) == {
                (r["account_id"], r["kind"], r["value"], r["count"]) for r in state.links.to_pylist()
            }

        def teardown(self) -> None:
            if not hasattr(self, "db"):
                return
            got = graph_digest(self.db)
            reset(db)
            clean = Database(db.settings.model_copy(update={"home": tmp_path / f"run{self.n}" / "clean"}), driver=db.driver)
            for path in self.live.values():
                ingest_bundle(path, clean.settings, clean)
            assert got == graph_digest(clean), f"live deliveries in order: {list(self.live)}"

    run_state_machine_as_test(
        Deliveries,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=6, deadline=None, derandomize=True,
                          suppress_health_check=list(HealthCheck)),
    )
