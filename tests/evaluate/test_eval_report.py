"""Renderers: rich table, JSON and Markdown, sybilgraph and baselines side by side."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from rich.console import Console

from sybilgraph.evaluate import (
    EvaluationResult,
    evaluate,
    print_report,
    render_json,
    render_markdown,
    render_rich_table,
)

TRUTH = pd.DataFrame(
    {"account_id": ["a1", "a2", "a3", "s1"], "operator": ["opA", "opA", "opA", ""],
     "is_distillation": [True, True, True, False]}
)
LABELS = pd.DataFrame({"account_id": ["a1"], "operator_label": ["OP-KESTREL"]})


@pytest.fixture()
def results() -> list[EvaluationResult]:
    good = pd.DataFrame(
        {"account_id": ["a1", "a2", "a3"], "operator_id": ["P", "P", "P"],
         "operator_label": ["OP-KESTREL"] * 3, "confidence": 1.0, "campaign_score": 1.0,
         "flagged": True}
    )
    nothing = good.assign(flagged=False, operator_label="")
    return [
        evaluate(good, TRUTH, LABELS, method="sybilgraph", runtime_s=12.5),
        evaluate(nothing, TRUTH, LABELS, method="fraud|rings", runtime_s=0.25),
    ]


def test_rich_table(results: list[EvaluationResult]) -> None:
    console = Console(record=True, width=200)
    console.print(render_rich_table(results))
    text = console.export_text()
    assert "sybilgraph" in text and "fraud|rings" in text
    assert "12.50 s" in text and "0.25 s" in text
    assert "flag precision" in text and "n/a" in text  # nothing flagged -> n/a precision


def test_print_report_all_sections(results: list[EvaluationResult]) -> None:
    console = Console(record=True, width=200)
    print_report(results, console)
    text = console.export_text()
    assert "opA" in text and "1.000 (3/3)" in text and "0.000 (0/3)" in text
    assert "OP-KESTREL" in text


def test_json(results: list[EvaluationResult]) -> None:
    data = json.loads(render_json(results))
    first, second = data["results"]
    assert first["method"] == "sybilgraph" and first["runtime_s"] == 12.5
    assert first["summary"]["mean_label_coverage"] == 1.0
    assert second["flagging"]["precision"] is None
    assert EvaluationResult.model_validate(
        {k: v for k, v in first.items() if k != "summary"}) == results[0]


def test_markdown(results: list[EvaluationResult]) -> None:
    md = render_markdown(results)
    lines = md.splitlines()
    assert lines[0] == "## Evaluation"
    header = next(line for line in lines if line.startswith("| metric"))
    assert header == "| metric | sybilgraph | fraud\\|rings |"
    assert "| flag precision | 1.000 | n/a |" in lines
    assert "| runtime | 12.50 s | 0.25 s |" in lines
    assert "### Recall per true distillation operator" in md
    assert "| OP-KESTREL | 1.000 (3/3) | 0.000 (0/3) |" in lines
    assert "### Definitions" in md
    bare = render_markdown(results, title=None, include_definitions=False)
    assert "Definitions" not in bare and not bare.startswith("##")
