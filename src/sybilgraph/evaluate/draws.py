"""Aggregation of the evaluation matrix over random draws: the median and the worst draw.

An evaluation that resists overfitting (attribution issue) scores every method on many random
draws of tradecraft (``sybilgraph generate --tradecraft random --seed N``) and reports, per
method and metric, the median draw and the **worst** draw (the lowest value of a metric where
higher is better, the highest where lower is better), plus per operator family the recall of
its operators; and the organisation step's counts per draw, pooled over the draws against the
organisation issue's bounds beside the worst draw. Pure: numbers in, numbers and Markdown out;
the runner lives in :mod:`sybilgraph.evaluate.matrix`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DRAW_METRICS",
    "DrawMetric",
    "DrawScore",
    "Aggregate",
    "aggregate",
    "every_operator_share",
    "family_recall",
    "render_bounds",
    "render_draws",
    "ORGANISATION_ACCEPTANCE",
    "organisation_draw_metrics",
    "render_organisation_draws",
]


@dataclass(frozen=True)
class DrawMetric:
    key: str
    label: str
    higher_is_better: bool
    percent: bool = False


# Every metric the issue asks for, in table order.
DRAW_METRICS: tuple[DrawMetric, ...] = (
    DrawMetric("flag_precision", "flag P", True),
    DrawMetric("flag_recall", "flag R", True),
    DrawMetric("benign_flagged_share", "benign flagged", False, percent=True),
    DrawMetric("fake_ari", "ARI fake", True),
    DrawMetric("all_pair_precision", "pair P all", True),
    DrawMetric("all_pair_recall", "pair R all", True),
    DrawMetric("min_operator_recall", "worst operator R", True),
    DrawMetric("min_label_coverage", "label cov.", True),
    DrawMetric("ece", "ECE", False),
    DrawMetric("large_open_flagged", "large open customer flagged", False),
)


@dataclass(frozen=True)
class DrawScore:
    """One method on one draw: its metrics (keys of :data:`DRAW_METRICS`; a missing or None
    value is undefined for that draw and left out of the aggregate) and the recall of each true
    distillation operator with the operator's family."""

    method: str
    seed: int
    metrics: Mapping[str, float | None]
    operator_recall: Mapping[str, float] = field(default_factory=dict)
    operator_family: Mapping[str, str] = field(default_factory=dict)
    # What the organisation step said about each true operator (sybilgraph only; the fields of
    # evaluate.metrics.OrganisationOutcome), to name the operators behind a missed bound.
    organisation_outcomes: Sequence[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Aggregate:
    median: float | None
    worst: float | None
    worst_seed: int | None
    n: int


def _aggregate(values: Sequence[tuple[int, float]], higher_is_better: bool) -> Aggregate:
    if not values:
        return Aggregate(None, None, None, 0)
    pick = min if higher_is_better else max
    seed, worst = pick(values, key=lambda sv: (sv[1], sv[0]) if higher_is_better else (sv[1], -sv[0]))
    return Aggregate(float(statistics.median(v for _, v in values)), float(worst), seed, len(values))


def aggregate(scores: Sequence[DrawScore]) -> dict[str, dict[str, Aggregate]]:
    """method -> metric key -> median and worst over the draws (ties: the lowest seed)."""
    out: dict[str, dict[str, Aggregate]] = {}
    for method in dict.fromkeys(s.method for s in scores):
        mine = [s for s in scores if s.method == method]
        out[method] = {
            m.key: _aggregate(
                [(s.seed, float(s.metrics[m.key])) for s in mine if s.metrics.get(m.key) is not None],
                m.higher_is_better,
            )
            for m in DRAW_METRICS
        }
    return out


def every_operator_share(scores: Sequence[DrawScore], bound: float = 0.95) -> dict[str, float | None]:
    """method -> share of draws in which every true operator's recall is >= ``bound``."""
    out: dict[str, float | None] = {}
    for method in dict.fromkeys(s.method for s in scores):
        draws = [s for s in scores if s.method == method and s.operator_recall]
        ok = [all(r >= bound for r in s.operator_recall.values()) for s in draws]
        out[method] = sum(ok) / len(ok) if ok else None
    return out


def family_recall(scores: Sequence[DrawScore]) -> dict[str, dict[str, Aggregate]]:
    """family -> method -> median and worst recall over every operator of that family, all draws
    pooled (an operator is one value; ``worst_seed`` is the draw of the worst operator)."""
    values: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for s in scores:
        for op, recall in s.operator_recall.items():
            family = s.operator_family.get(op, "unknown")
            values.setdefault(family, {}).setdefault(s.method, []).append((s.seed, recall))
    return {
        family: {method: _aggregate(v, True) for method, v in per_method.items()}
        for family, per_method in sorted(values.items())
    }


def _cell(a: Aggregate, metric: DrawMetric | None = None) -> str:
    if a.median is None or a.worst is None:
        return "n/a"
    if metric is not None and metric.key == "large_open_flagged":
        return "never" if a.worst == 0 else f"yes (seed {a.worst_seed})"

    def fmt(v: float) -> str:
        return f"{100 * v:.3f}%" if metric is not None and metric.percent else f"{v:.4f}"

    return f"{fmt(a.median)} / {fmt(a.worst)} (seed {a.worst_seed})"


def render_draws(scores: Sequence[DrawScore], title: str) -> str:
    """Markdown: per method the median / worst draw of every metric, the share of draws where
    every operator reaches 0.95 recall, and per family the median / worst operator recall."""
    agg = aggregate(scores)
    share = every_operator_share(scores)
    n_draws = len({s.seed for s in scores})
    lines = [
        f"### {title}",
        "",
        f"{n_draws} draws. Each cell: median / worst draw (the draw's seed). "
        "Worst = lowest where higher is better, highest where lower is better.",
        "",
        "| method | " + " | ".join(m.label for m in DRAW_METRICS) + " | draws with every operator R >= 0.95 |",
        "|---|" + "---|" * (len(DRAW_METRICS) + 1),
    ]
    for method, per_metric in agg.items():
        s = share[method]
        lines.append(
            f"| {method} | " + " | ".join(_cell(per_metric[m.key], m) for m in DRAW_METRICS)
            + f" | {'n/a' if s is None else f'{100 * s:.0f}%'} |"
        )
    families = family_recall(scores)
    if families:
        methods = list(agg)
        lines += ["", "Recall per operator family (every operator of the family in every draw):", "",
                  "| family | operators | " + " | ".join(methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for family, per_method in families.items():
            n = max(a.n for a in per_method.values())
            cells = [_cell(per_method[m]) if m in per_method else "n/a" for m in methods]
            lines.append(f"| {family} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_bounds(
    scores: Sequence[DrawScore],
    bounds: Sequence[tuple[str, str, str, float]],
    every_operator_bound: float | None = None,
    rival: str | None = None,
) -> str:
    """Markdown: per bound (label, metric key, ">=" or "<=", value) each method's worst draw and
    whether it meets the bound (a bound holds for a method only if its worst draw meets it);
    ``every_operator_bound``: a last row, the share of draws in which every operator's recall is
    >= 0.95, against that share; ``rival``: a last column, whether the first method's worst draw
    is at least as good as the rival's."""
    agg = aggregate(scores)
    methods = list(agg)
    lead = methods[0] if methods else ""
    show_rival = rival is not None and rival in methods and rival != lead
    lines = ["| bound | " + " | ".join(f"{m}: worst draw" for m in methods)
             + (f" | {lead} ahead of {rival} |" if show_rival else " |"),
             "|---|" + "---|" * (len(methods) + int(show_rival))]

    def worst(method: str, key: str, higher: bool) -> Aggregate:
        return _aggregate([(s.seed, float(s.metrics[key])) for s in scores
                           if s.method == method and s.metrics.get(key) is not None], higher)

    for label, key, op, bound in bounds:
        higher = op == ">="
        cells = []
        for m in methods:
            a = worst(m, key, higher)
            if a.worst is None:
                cells.append("n/a")
                continue
            ok = a.worst >= bound if higher else a.worst <= bound
            if key == "large_open_flagged":
                value = "never" if a.worst == 0 else f"flagged (seed {a.worst_seed})"
            else:
                value = (f"{100 * a.worst:.3f}%" if key == "benign_flagged_share" else f"{a.worst:.4f}") + f" (seed {a.worst_seed})"
            cells.append(f"{value} {'met' if ok else '**missed**'}")
        if show_rival:
            mine, theirs = worst(lead, key, higher).worst, worst(str(rival), key, higher).worst
            cells.append("n/a" if mine is None or theirs is None
                         else ("yes" if (mine >= theirs if higher else mine <= theirs) else "**no**"))
        shown = {"benign_flagged_share": f"{100 * bound:.2f}%", "large_open_flagged": "0 (never)"}.get(key, f"{bound:g}")
        lines.append(f"| {label} {op} {shown} | " + " | ".join(cells) + " |")
    if every_operator_bound is not None:
        share = every_operator_share(scores)
        cells = ["n/a" if share[m] is None else
                 f"{100 * share[m]:.0f}% {'met' if share[m] >= every_operator_bound else '**missed**'}"  # type: ignore[operator]
                 for m in methods]
        if show_rival:
            mine_s, theirs_s = share[lead], share[str(rival)]
            cells.append("n/a" if mine_s is None or theirs_s is None else ("yes" if mine_s >= theirs_s else "**no**"))
        lines.append(f"| draws with every operator's recall >= 0.95 >= {100 * every_operator_bound:.0f}% | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- organisations

# The organisation issue's bounds, judged on the counts pooled over the draws: (label, numerator,
# denominator, comparison, bound). A draw holds 3-7 operators, 0-5 of them with a trail, so one
# draw's precision moves in steps of 0.2-0.33; the worst draw is shown beside the pooled value.
ORGANISATION_ACCEPTANCE: tuple[tuple[str, str, str, str, float], ...] = (
    ("top-1 precision, operators with a trail", "org_trail_correct", "org_trail_asserted", ">=", 0.95),
    ("top-1 recall, operators with a trail", "org_trail_correct", "org_trail", ">=", 0.90),
    ("asserted without a trail", "org_no_trail_asserted", "org_no_trail", "<=", 0.02),
)
# Bounds that must hold in every draw: counts that must stay 0.
ORGANISATION_NEVER: tuple[tuple[str, str], ...] = (
    ("decoy (shared cloud provider, webmail) as top hypothesis", "org_decoy_top"),
    ("hypotheses whose evidence does not name accounts and identifiers", "org_hypotheses_without_evidence"),
)
_ORG_COUNTS = ("org_trail", "org_trail_asserted", "org_trail_correct", "org_no_trail", "org_no_trail_asserted",
               "org_decoy_top", "org_hypotheses", "org_hypotheses_without_evidence")


def organisation_draw_metrics(m: Any) -> dict[str, float | None]:
    """One draw's organisation counts (an :class:`~sybilgraph.evaluate.metrics.OrganisationMetrics`)
    as draw metrics: counts, so the draws can be pooled, plus the draw's own ratios."""
    values = (m.n_trail, m.n_trail_asserted, m.n_trail_correct, m.n_no_trail, m.n_no_trail_asserted,
              m.n_decoy_top, m.n_hypotheses, m.n_hypotheses_without_evidence)
    out: dict[str, float | None] = {k: None if v is None else float(v) for k, v in zip(_ORG_COUNTS, values)}
    out.update(org_precision=m.precision, org_recall=m.recall, org_no_trail_share=m.no_trail_asserted_share)
    return out


def _pooled(scores: Sequence[DrawScore], num: str, den: str) -> tuple[int, int]:
    return (int(sum(s.metrics.get(num) or 0 for s in scores)), int(sum(s.metrics.get(den) or 0 for s in scores)))


def _fraction(n: int, d: int) -> str:
    return f"{n / d:.3f} ({n}/{d})" if d else "n/a (0/0)"


def render_organisation_draws(scores: Sequence[DrawScore], method: str = "sybilgraph") -> str:
    """Markdown: the organisation step per draw, pooled over the draws and against the bounds
    (pooled value and worst draw); "" when no draw carries organisation counts."""
    mine = sorted((s for s in scores if s.method == method and s.metrics.get("org_trail") is not None),
                  key=lambda s: s.seed)
    if not mine:
        return ""
    lines = ["Organisations (the step naming who runs each operator; a true operator is judged through",
             "the predicted operator holding most of its accounts). Per draw:", "",
             "| seed | operators with a trail | asserted | correct | precision | recall | without a trail | "
             "asserted | decoy on top | hypotheses | without named evidence |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def n(s: DrawScore, key: str) -> str:
        v = s.metrics.get(key)
        return "-" if v is None else str(int(v))

    def r(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    for s in mine:
        lines.append(f"| {s.seed} | {n(s, 'org_trail')} | {n(s, 'org_trail_asserted')} | {n(s, 'org_trail_correct')} | "
                     f"{r(s.metrics.get('org_precision'))} | {r(s.metrics.get('org_recall'))} | {n(s, 'org_no_trail')} | "
                     f"{n(s, 'org_no_trail_asserted')} | {n(s, 'org_decoy_top')} | {n(s, 'org_hypotheses')} | "
                     f"{n(s, 'org_hypotheses_without_evidence')} |")
    lines.append("| all | " + " | ".join(str(_pooled(mine, k, k)[0]) for k in _ORG_COUNTS[:3]) + " | "
                 + _fraction(*_pooled(mine, "org_trail_correct", "org_trail_asserted")) + " | "
                 + _fraction(*_pooled(mine, "org_trail_correct", "org_trail")) + " | "
                 + " | ".join(str(_pooled(mine, k, k)[0]) for k in _ORG_COUNTS[3:]) + " |")
    lines += ["", f"Against the organisation bounds over {len(mine)} draws (pooled counts; worst draw beside):", "",
              "| bound | pooled | met | worst draw |", "|---|---|---|---|"]
    ratio_key = {"org_trail_asserted": "org_precision", "org_trail": "org_recall", "org_no_trail": "org_no_trail_share"}
    for label, num, den, op, bound in ORGANISATION_ACCEPTANCE:
        k, d = _pooled(mine, num, den)
        value = k / d if d else None
        met = "n/a" if value is None else ("met" if (value >= bound if op == ">=" else value <= bound) else "**missed**")
        per_draw = [(s.seed, s.metrics.get(ratio_key[den])) for s in mine if s.metrics.get(ratio_key[den]) is not None]
        pick = min if op == ">=" else max
        worst = pick(per_draw, key=lambda sv: (sv[1], sv[0] if op == ">=" else -sv[0])) if per_draw else None
        shown = f"{100 * bound:.0f}%" if op == "<=" else f"{bound:g}"
        lines.append(f"| {label} {op} {shown} | {_fraction(k, d)} | {met} | "
                     + ("n/a" if worst is None else f"{worst[1]:.3f} (seed {worst[0]})") + " |")
    for label, key in ORGANISATION_NEVER:
        checked = [s for s in mine if s.metrics.get(key) is not None]
        bad = [s.seed for s in checked if (s.metrics.get(key) or 0) > 0]
        total = sum(int(s.metrics.get(key) or 0) for s in checked)
        lines.append(f"| {label} = 0 | {total} | {'met' if not bad and checked else ('n/a' if not checked else '**missed**')} | "
                     + (f"seeds {', '.join(map(str, bad))}" if bad else "none") + " |")
    misses = [f"* seed {s.seed}, {o['operator']}: {_miss(o)}" for s in mine for o in s.organisation_outcomes if _miss(o)]
    if misses:
        lines += ["", "Operators behind the misses (true operator: what the step said about the predicted operator holding",
                  "most of its accounts):", "", *misses]
    return "\n".join(lines) + "\n"


def _miss(o: Mapping[str, Any]) -> str:
    """Why one true operator counts against a bound, or "" when it does not."""
    found = o.get("detected_operator")
    if o.get("decoy_top"):
        return f"a decoy, {o.get('top')}, is the top hypothesis of {found}"
    if o.get("trail") and not o.get("correct"):
        if found is None:
            return f"its organisation {o['organisation']} left a trail, but no predicted operator is mostly its accounts"
        if o.get("asserted"):
            return f"{found} was attributed to {o['asserted']}, not to {o['organisation']}"
        return f"{found} is unattributed (top hypothesis: {o.get('top') or 'none'}; true: {o['organisation']})"
    if not o.get("trail") and o.get("asserted"):
        return f"its organisation left no trail, yet {found} was attributed to {o['asserted']}"
    return ""
