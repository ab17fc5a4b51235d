"""Render evaluation results side by side: a rich table (terminal), JSON, and Markdown.

Each input is an :class:`~sybilgraph.evaluate.metrics.EvaluationResult` (sybilgraph's or a
baseline's, see :mod:`sybilgraph.evaluate.baselines`); methods become columns, metrics rows.
Undefined values (``None``) print as ``n/a``. :func:`render_markdown` writes the tables plus the
metric definitions, ready for ``docs/evaluation.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.table import Table

from sybilgraph.evaluate.metrics import EvaluationResult, OrganisationMetrics

__all__ = [
    "DEFINITIONS_MD",
    "summary_rows",
    "render_rich_table",
    "render_rich",
    "print_report",
    "render_json",
    "render_markdown",
]

NA = "n/a"


@dataclass(frozen=True)
class _Row:
    label: str
    get: Callable[[EvaluationResult], Any]
    kind: str  # "int", "ratio", "seconds"


_ROWS: tuple[_Row, ...] = (
    _Row("runtime", lambda r: r.runtime_s, "seconds"),
    _Row("accounts attributed", lambda r: r.n_attributed, "int"),
    _Row("predicted operators", lambda r: r.n_predicted_operators, "int"),
    _Row("accounts flagged", lambda r: r.flagging.n_flagged, "int"),
    _Row("flag precision", lambda r: r.flagging.precision, "ratio"),
    _Row("flag recall", lambda r: r.flagging.recall, "ratio"),
    _Row("flag F1", lambda r: r.flagging.f1, "ratio"),
    _Row("benign accounts flagged", lambda r: r.flagging.benign_flagged_share, "ratio"),
    _Row("mean recall per campaign", lambda r: r.mean_operator_recall, "ratio"),
    _Row("worst recall of a campaign", lambda r: r.min_operator_recall, "ratio"),
    _Row("ARI, fake accounts", lambda r: r.fake_assignment.ari, "ratio"),
    _Row("pair precision, fake accounts", lambda r: r.fake_assignment.pair_precision, "ratio"),
    _Row("pair recall, fake accounts", lambda r: r.fake_assignment.pair_recall, "ratio"),
    _Row("ARI, all accounts", lambda r: r.operator_assignment.ari, "ratio"),
    _Row("pair precision, all accounts", lambda r: r.operator_assignment.pair_precision, "ratio"),
    _Row("pair recall, all accounts", lambda r: r.operator_assignment.pair_recall, "ratio"),
    _Row("mean label coverage", lambda r: r.mean_label_coverage, "ratio"),
)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return NA
    if kind == "int":
        return f"{int(value):,}"
    if kind == "seconds":
        return f"{float(value):.2f} s"
    return f"{float(value):.3f}"


def summary_rows(results: Sequence[EvaluationResult]) -> list[tuple[str, list[str]]]:
    """(metric label, formatted value per result) for every summary metric, in display order."""
    return [(row.label, [_fmt(row.get(r), row.kind) for r in results]) for row in _ROWS]


def _operators(results: Sequence[EvaluationResult]) -> list[str]:
    return sorted({o.operator for r in results for o in r.recall_by_operator})


def _labels(results: Sequence[EvaluationResult]) -> list[str]:
    return sorted({c.label for r in results for c in r.label_coverage})


def _recall_cell(result: EvaluationResult, operator: str) -> str:
    for o in result.recall_by_operator:
        if o.operator == operator:
            return f"{o.recall:.3f} ({o.n_flagged:,}/{o.n_accounts:,})"
    return NA


def _coverage_cell(result: EvaluationResult, label: str) -> str:
    for c in result.label_coverage:
        if c.label == label:
            if c.coverage is None:
                return NA
            return f"{c.coverage:.3f} ({c.n_carrying:,}/{c.n_true_accounts:,})"
    return NA


# --------------------------------------------------------------------------- rich


def render_rich_table(
    results: Sequence[EvaluationResult], title: str = "Attribution quality"
) -> Table:
    """The summary metrics, one column per method (sybilgraph and the baselines)."""
    table = Table(title=title, show_lines=False)
    table.add_column("metric", style="bold")
    for r in results:
        table.add_column(r.method, justify="right")
    for label, cells in summary_rows(results):
        table.add_row(label, *cells)
    return table


def render_rich(results: Sequence[EvaluationResult]) -> Group:
    """Summary table, recall per true campaign, and label coverage, as one renderable."""
    parts: list[Table] = [render_rich_table(results)]
    operators = _operators(results)
    if operators:
        t = Table(title="Recall per true distillation operator (flagged / accounts)")
        t.add_column("operator", style="bold")
        for r in results:
            t.add_column(r.method, justify="right")
        for op in operators:
            t.add_row(op, *[_recall_cell(r, op) for r in results])
        parts.append(t)
    labels = _labels(results)
    if labels:
        t = Table(title="Label coverage (accounts carrying the label / accounts of its operator)")
        t.add_column("label", style="bold")
        for r in results:
            t.add_column(r.method, justify="right")
        for lab in labels:
            t.add_row(lab, *[_coverage_cell(r, lab) for r in results])
        parts.append(t)
    return Group(*parts)


def print_report(results: Sequence[EvaluationResult], console: Console | None = None) -> None:
    (console or Console()).print(render_rich(results))


def render_organisations(m: OrganisationMetrics) -> Table:
    """Organisation attribution of the true operators: the headline numbers, then per operator."""
    t = Table(title=(
        f"Organisations: trail precision {_fmt(m.precision, 'ratio')} ({m.n_trail_correct}/{m.n_trail_asserted}), "
        f"recall {_fmt(m.recall, 'ratio')} ({m.n_trail_correct}/{m.n_trail}); asserted without a trail "
        f"{m.n_no_trail_asserted}/{m.n_no_trail}; decoy as top hypothesis {m.n_decoy_top}"
    ))
    for col in ("operator", "trail", "organisation", "asserted", "top hypothesis", "correct"):
        t.add_column(col)
    for o in m.operators:
        t.add_row(o.operator, "yes" if o.trail else "no", o.organisation, o.asserted or "unattributed",
                  (o.top or "-") + (" (decoy)" if o.decoy_top else ""), "yes" if o.correct else "no")
    return t


# --------------------------------------------------------------------------- JSON


def render_json(results: Sequence[EvaluationResult], indent: int | None = 2) -> str:
    """``{"results": [...]}``: every result in full plus its derived summary numbers."""
    payload: dict[str, Any] = {
        "results": [
            {
                **r.model_dump(mode="json"),
                "summary": {
                    "mean_operator_recall": r.mean_operator_recall,
                    "min_operator_recall": r.min_operator_recall,
                    "mean_label_coverage": r.mean_label_coverage,
                },
            }
            for r in results
        ]
    }
    return json.dumps(payload, indent=indent, allow_nan=False)


# --------------------------------------------------------------------------- Markdown


DEFINITIONS_MD = """\
### Definitions

* **Flag precision / recall**: an account is positive when the truth marks it
  `is_distillation`, predicted positive when the export has `flagged = true`. Accounts absent
  from the export are unflagged. Precision is `n/a` when nothing is flagged.
* **Benign accounts flagged**: flagged non-distillation accounts / all non-distillation
  accounts.
* **Recall per campaign**: for each true distillation operator, the share of its accounts
  flagged; the mean weighs every campaign once.
* **ARI / pair precision / pair recall, fake accounts**: over the distillation accounts only,
  true partition = `truth.operator`, predicted partition = export `operator_id`; unattributed
  accounts are singletons. Pair precision = pairs in the same predicted and the same true
  operator / pairs in the same predicted operator; pair recall divides by pairs in the same
  true operator.
* **All accounts**: the same over the accounts of every true multi-account operator
  (campaigns, households, organisations) plus every standalone account, so strangers glued
  onto an operator count as false pairs.
* **Label coverage**: for each investigator label, the true operator of its labelled accounts
  (majority) and the share of that operator's accounts that carry the label in the export.
  Baselines get each cluster's majority label, the propagation any method gets for free.
* Pair counts come from contingency tables (Σ C(n, 2) over cells), never by enumerating pairs.
"""


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """First column left-aligned (names), the others right-aligned (numbers)."""
    head = "| " + " | ".join(_md_escape(h) for h in header) + " |"
    sep = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
    body = ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join([head, sep, *body])


def render_markdown(
    results: Sequence[EvaluationResult],
    *,
    title: str | None = "Evaluation",
    include_definitions: bool = True,
) -> str:
    """Markdown: summary table (methods as columns), recall per campaign, label coverage."""
    methods = [r.method for r in results]
    out: list[str] = []
    if title:
        out.append(f"## {title}\n")
    if results:
        n = results[0].n_accounts
        out.append(f"{n:,} accounts; methods: {', '.join(methods)}.\n")
    rows = [[lab, *cells] for lab, cells in summary_rows(results)]
    out.append(_md_table(["metric", *methods], rows))
    operators = _operators(results)
    if operators:
        out.append("\n### Recall per true distillation operator\n")
        rows = [[op, *[_recall_cell(r, op) for r in results]] for op in operators]
        out.append(_md_table(["operator", *methods], rows))
    labels = _labels(results)
    if labels:
        out.append("\n### Label coverage\n")
        rows = [[lab, *[_coverage_cell(r, lab) for r in results]] for lab in labels]
        out.append(_md_table(["label", *methods], rows))
    if include_definitions:
        out.append("\n" + DEFINITIONS_MD)
    return "\n".join(out).rstrip() + "\n"
