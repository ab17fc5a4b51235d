"""``sybilgraph evaluate-organisations``: the organisation step alone on a drawn world's true
operators, staged without Neo4j and scored by the matrix's own organisation metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from sybilgraph.evaluate.organisations_truth import evaluate_organisations, pooled


@pytest.fixture(scope="module")
def drawn_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scale 0.01, seed 3: four operators of one organisation, two of which left a trail and two
    only investigators' labels naming it (as tests/attribution/test_organisations_pipeline.py)."""
    from sybilgraph.generate import generate_bundle

    out = tmp_path_factory.mktemp("drawn") / "b"
    generate_bundle(out, scale=0.01, seed=3, tradecraft="random")
    return out


def test_true_operators_are_attributed_to_their_organisation_and_nothing_else(drawn_bundle: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    [result] = evaluate_organisations([drawn_bundle], work=tmp_path, progress=lines.append)
    c = result.counts()
    assert c["trail"] >= 2 and c["correct"] == c["asserted"] == c["trail"], c
    assert c["no_trail_asserted"] == 0 and c["decoy_top"] == 0
    assert c["hypotheses"] > 0 and c["hypotheses_without_evidence"] == 0
    assert set(result.operator_prior) == {"open group", "campaign"}
    assert result.operator_prior["campaign"] > result.operator_prior["open group"]
    total = pooled([result])
    assert total["recall"] == 1.0 and total["precision"] == 1.0
    assert len(lines) == 1 and drawn_bundle.name in lines[0]
    assert not any(tmp_path.iterdir())  # the staged home is removed
