"""``evaluate-matrix --draws`` against the real Neo4j: two tiny random-tradecraft draws, every
method scored per draw, and the leave-one-family-out table over the draws' operators."""

from __future__ import annotations

from pathlib import Path

import pytest

from sybilgraph.db.session import Database
from sybilgraph.evaluate import command
from sybilgraph.evaluate.calibrate import operator_families
from sybilgraph.evaluate.matrix import DrawResults, render_draw_matrix, run_draws

pytestmark = pytest.mark.integration


def test_two_draws_scored_per_method_with_a_lofo_table(
    session_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(session_db.settings.model_copy(update={"home": tmp_path / "home"}), driver=session_db.driver)
    monkeypatch.setattr(command, "splink_available", lambda: False)  # Splink's own test covers it
    seen: list[int] = []
    results = run_draws(db, {0.002: 2}, tmp_path / "work", log=lambda _: None,
                        on_draw=lambda r: seen.append(len(r.scores[0.002])))
    assert isinstance(results, DrawResults)
    scores = results.scores[0.002]
    assert seen == [3, 6]  # written after every draw: three methods per draw
    assert [(s.seed, s.method) for s in scores[:3]] == [(1, "sybilgraph"), (1, "fraud-rings"), (1, "evilcohort")]
    families = operator_families(tmp_path / "work" / "random-s0.002-seed1")
    assert families and scores[0].operator_family == families
    assert set(scores[0].operator_recall) == set(families)  # every true campaign scored
    # The operators found in both draws, one family column as calibrate names them.
    ops = results.training[0.002].operators
    assert set(ops["bundle"]) == {str(tmp_path / "work" / f"random-s0.002-seed{n}") for n in (1, 2)}
    lofo = results.lofo.get(0.002)
    if lofo is not None and len(lofo):
        assert set(lofo["family"]) <= set(ops["family"])
        assert lofo["flagged_share"].between(0, 1).all()
    # The organisation step per draw (random worlds name who runs each operator).
    assert all(s.metrics.get("org_trail") is not None for s in scores if s.method == "sybilgraph")
    md = render_draw_matrix(results, "sybilgraph evaluate-matrix --draws 0.002:2")
    assert "### Scale 0.002\n\n2 draws." in md
    assert "Against the organisation bounds over 2 draws" in md
