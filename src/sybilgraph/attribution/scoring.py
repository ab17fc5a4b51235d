"""Campaign score: how strongly an operator's behaviour looks like a distillation campaign (pure).

Transparent by construction: a handful of operator features, each in [0, 1] with a plain
meaning, combined by a logistic function with fixed weights. Every feature is stored and served
with the score, so an investigator can see why an operator is flagged.

Features (operator = its member accounts):
- ``size``: log-scaled member count (households have 2-5, campaigns thousands).
- ``creation_burst``: largest share of members created within one 24-hour window.
- ``volume``: median interactions per member per active day, relative to the population median.
- ``output_heavy``: median output/input token ratio relative to the population (harvesting
  answers means long outputs for short prompts).
- ``task_mix``: share of reasoning, coding, math and agentic requests.
- ``round_the_clock``: share of activity in each member's quietest 8 hours of the day (people
  sleep; automation does not), relative to a 1/3 share for perfectly flat activity.
- ``template_reuse``: share of members using a prompt template that most members use.
- ``automation_tls``: share of members on a TLS client that most members use and that is rare in
  the population (browsers are common; an automation client is not).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FEATURE_WEIGHTS", "BIAS", "AccountActivity", "operator_features", "campaign_score", "population_baseline"]

FEATURE_WEIGHTS: dict[str, float] = {
    "size": 2.0,
    "creation_burst": 1.5,
    "volume": 2.0,
    "output_heavy": 1.0,
    "task_mix": 1.5,
    "round_the_clock": 2.0,
    "template_reuse": 1.0,
    "automation_tls": 1.0,
}
BIAS = -6.0
TASK_CATEGORIES = frozenset({"reasoning", "coding", "math", "agentic"})
DAY_MS = 86_400_000


@dataclass(frozen=True)
class AccountActivity:
    """Per-account numbers the score needs, derived once from the account's graph properties."""

    created_at: float  # epoch ms
    per_active_day: float  # interactions per day between first and last interaction
    output_ratio: float  # output tokens per input token
    task_share: float  # share of task-like categories
    quiet_share: float  # share of activity in its quietest 8 hours of the day
    n_interactions: int


def account_activity(
    created_at: float,
    n_interactions: int,
    input_tokens: int,
    output_tokens: int,
    first_interaction: float | None,
    last_interaction: float | None,
    hour_hist: Sequence[int],
    category_names: Sequence[str],
    category_counts: Sequence[int],
) -> AccountActivity:
    days = 1.0
    if first_interaction is not None and last_interaction is not None:
        days = max(1.0, (last_interaction - first_interaction) / DAY_MS)
    total_cat = sum(category_counts)
    task = sum(c for n, c in zip(category_names, category_counts) if n in TASK_CATEGORIES)
    return AccountActivity(
        created_at=float(created_at),
        per_active_day=n_interactions / days,
        output_ratio=(output_tokens / input_tokens) if input_tokens > 0 else 0.0,
        task_share=(task / total_cat) if total_cat else 0.0,
        quiet_share=_quiet_share(hour_hist),
        n_interactions=n_interactions,
    )


def _quiet_share(hour_hist: Sequence[int]) -> float:
    hours = np.asarray(hour_hist, dtype=float).reshape(7, 24).sum(axis=0) if len(hour_hist) == 168 else np.zeros(24)
    total = hours.sum()
    if total <= 0:
        return 0.0
    circular = np.concatenate([hours, hours[:7]])
    window = np.convolve(circular, np.ones(8), mode="valid")[:24]
    return float(window.min() / total)


@dataclass(frozen=True)
class PopulationBaseline:
    per_active_day: float
    output_ratio: float


def population_baseline(activities: Sequence[AccountActivity]) -> PopulationBaseline:
    active = [a for a in activities if a.n_interactions > 0]
    if not active:
        return PopulationBaseline(1.0, 1.0)
    return PopulationBaseline(
        per_active_day=float(np.median([a.per_active_day for a in active])) or 1.0,
        output_ratio=float(np.median([a.output_ratio for a in active])) or 1.0,
    )


def operator_features(
    members: Sequence[AccountActivity],
    baseline: PopulationBaseline,
    template_reuse: float,
    automation_tls: float,
) -> dict[str, float]:
    n = len(members)
    active = [m for m in members if m.n_interactions > 0] or list(members)
    created = np.sort(np.array([m.created_at for m in members]))
    burst = _max_in_window(created, DAY_MS) / n if n else 0.0
    return {
        "size": _clip(math.log10(max(n, 1)) / 3.0),
        "creation_burst": _clip(burst if n >= 3 else 0.0),
        "volume": _clip(math.log10(max(_median([m.per_active_day for m in active]) / baseline.per_active_day, 1e-9)) / 1.0),
        "output_heavy": _clip(math.log2(max(_median([m.output_ratio for m in active]) / baseline.output_ratio, 1e-9)) / 2.0),
        "task_mix": _clip(_median([m.task_share for m in active])),
        "round_the_clock": _clip(_median([m.quiet_share for m in active]) * 3.0),
        "template_reuse": _clip(template_reuse),
        "automation_tls": _clip(automation_tls),
    }


def campaign_score(features: Mapping[str, float]) -> float:
    z = BIAS + sum(FEATURE_WEIGHTS[k] * features.get(k, 0.0) for k in FEATURE_WEIGHTS)
    return 1.0 / (1.0 + math.exp(-z))


def _max_in_window(sorted_times: np.ndarray, width: float) -> int:
    if len(sorted_times) == 0:
        return 0
    ends = np.searchsorted(sorted_times, sorted_times + width, side="right")
    return int((ends - np.arange(len(sorted_times))).max())


def _median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else 0.0


def _clip(x: float) -> float:
    return 0.0 if not math.isfinite(x) else min(1.0, max(0.0, x))
