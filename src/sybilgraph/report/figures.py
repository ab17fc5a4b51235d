"""The case file's charts: each a matplotlib figure turned into a titled, described inline SVG.

Every function takes values of ``report.model`` and returns a ``charts.Chart`` (or None when
there is nothing to draw), whose alt text states what the chart shows with its key numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from matplotlib.ticker import PercentFormatter

from sybilgraph.charts import PALETTE, Chart, figure, to_chart
from sybilgraph.report.model import Behaviour, Feature, Member

__all__ = [
    "category_mix",
    "confidence_distribution",
    "creation_bursts",
    "daily_interactions",
    "feature_bars",
    "hour_of_week",
    "output_token_profile",
]

OPERATOR, BENIGN = PALETTE[1], PALETTE[0]
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def feature_bars(features: Sequence[Feature], score: float, threshold: float | None, flagged: bool) -> Chart | None:
    if not features:
        return None
    fig = figure(6.4, 0.45 + 0.32 * len(features))
    ax = fig.add_subplot()
    names = [f.name.replace("_", " ") for f in features]
    values = [f.value for f in features]
    bars = ax.barh(names, values, color=[OPERATOR if v >= 0.5 else BENIGN for v in values])
    for bar, f in zip(bars, features):
        weight = f"× {f.weight:g}" if f.weight is not None else "(not weighted)"
        ax.annotate(f"{f.value:.2f} {weight}", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("feature value (0 to 1); × its weight in the score")
    verdict = "flagged" if flagged else "not flagged"
    limit = f" (flag at ≥ {threshold:.2f})" if threshold is not None else ""
    title = f"Campaign score {score:.2f}{limit}: {verdict}"
    ax.set_title(title, loc="left")
    top = sorted(features, key=lambda f: -(f.value * (f.weight or 0)))[:3]
    alt = (f"Bars of the {len(features)} campaign-score features, each between 0 and 1. Score {score:.2f}, "
           f"{verdict}{limit}. Largest contributions: "
           + ", ".join(f"{f.name.replace('_', ' ')} {f.value:.2f} (weight {f.weight:g})" for f in top if f.weight) + ".")
    return to_chart(fig, key="features", title=title, alt=alt)


def confidence_distribution(confidences: Sequence[float]) -> Chart | None:
    values = [c for c in confidences if c is not None]
    if not values:
        return None
    fig = figure(4.6, 2.4)
    ax = fig.add_subplot()
    ax.hist(values, bins=np.linspace(0, 1, 21), color=OPERATOR, edgecolor="white")
    ax.set_xlim(0, 1)
    ax.set_xlabel("confidence that the account belongs to this operator")
    ax.set_ylabel("accounts")
    title = "Confidence of the members"
    ax.set_title(title, loc="left")
    q = np.quantile(values, [0.1, 0.5])
    low = sum(1 for v in values if v < 0.5)
    alt = (f"Histogram of {len(values):,} members' confidence: median {q[1]:.2f}, 10th percentile {q[0]:.2f}; "
           f"{low:,} below 0.5.")
    return to_chart(fig, key="confidence", title=title, alt=alt)


def daily_interactions(b: Behaviour) -> Chart | None:
    if not b.daily:
        return None
    days = [d for d, _ in b.daily]
    counts = [n for _, n in b.daily]
    fig = figure(7.2, 2.6)
    ax = fig.add_subplot()
    ax.bar(days, counts, width=1.0, color=OPERATOR, edgecolor="none")
    start, end = days[0], days[-1]
    for when, label, ha in ((start, "start", "left"), (end, "end", "right")):
        ax.axvline(when, color="black", linestyle="--", linewidth=0.9)
        ax.annotate(f"{label} {when:%Y-%m-%d}", (when, 1.0), xycoords=("data", "axes fraction"), xytext=(3 if ha == "left" else -3, -2),
                    textcoords="offset points", ha=ha, va="top", fontsize=8)
    ax.set_ylabel("interactions per day")
    fig.autofmt_xdate(rotation=0, ha="center")
    title = "Daily interactions over the campaign"
    ax.set_title(title, loc="left")
    peak_day, peak = max(b.daily, key=lambda kv: kv[1])
    alt = (f"Bars of the operator's interactions per UTC day from {start:%Y-%m-%d} (start) to {end:%Y-%m-%d} (end), "
           f"{len(days)} active days, {b.interactions:,} interactions in all; busiest day {peak_day:%Y-%m-%d} with {peak:,}.")
    return to_chart(fig, key="daily", title=title, alt=alt)


def creation_bursts(members: Sequence[Member]) -> Chart | None:
    created = sorted(m.created_at for m in members if m.created_at is not None)
    if not created:
        return None
    first, last = created[0], created[-1]
    hourly = (last - first) <= timedelta(days=4)
    unit = timedelta(hours=1) if hourly else timedelta(days=1)
    start = first.replace(minute=0, second=0, microsecond=0) if hourly else first.replace(hour=0, minute=0, second=0, microsecond=0)
    edges = [start + unit * k for k in range(int((last - start) / unit) + 2)]
    fig = figure(7.2, 2.4)
    ax = fig.add_subplot()
    ax.hist(created, bins=edges, color=OPERATOR, edgecolor="white", linewidth=0.3)
    ax.set_ylabel(f"accounts created per {'hour' if hourly else 'day'}")
    fig.autofmt_xdate(rotation=0, ha="center")
    window, best_start = _densest_window(created, timedelta(hours=24))
    ax.axvspan(best_start, best_start + timedelta(hours=24), color=PALETTE[4], alpha=0.25, label="busiest 24 hours")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    title = "Account creation bursts"
    ax.set_title(title, loc="left")
    alt = (f"Histogram of when the {len(created):,} members were created, from {first:%Y-%m-%d} to {last:%Y-%m-%d}; "
           f"the busiest 24 hours (from {best_start:%Y-%m-%d %H:%M} UTC) saw {window:,} "
           f"({window / len(created):.0%}) of them.")
    return to_chart(fig, key="creation", title=title, alt=alt)


def _densest_window(times: Sequence[datetime], width: timedelta) -> tuple[int, datetime]:
    best, best_start, j = 0, times[0], 0
    for i, t in enumerate(times):
        while times[j] < t - width:
            j += 1
        if i - j + 1 > best:
            best, best_start = i - j + 1, times[j]
    return best, best_start


def hour_of_week(b: Behaviour) -> Chart | None:
    if not sum(b.hour_of_week):
        return None
    fig = figure(7.2, 3.4)
    axes = fig.subplots(2, 1, sharex=True)
    panels = (("this operator", b.hour_of_week), ("benign population", b.benign_hour_of_week))
    image = None
    for ax, (name, counts) in zip(axes, panels):
        total = sum(counts) or 1
        grid = np.array(counts, dtype=float).reshape(7, 24) / total
        image = ax.imshow(grid, aspect="auto", cmap="magma_r", vmin=0, vmax=max(3.0 / 168, float(grid.max())))
        ax.set_yticks(range(7), DAYS)
        ax.set_ylabel(name, fontsize=8)
    axes[-1].set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    axes[-1].set_xlabel("hour of the day (UTC)")
    if image is not None:
        fig.colorbar(image, ax=list(axes), format=PercentFormatter(1.0, decimals=1), label="share of interactions")
    title = "Hour of week (7 × 24, UTC)"
    axes[0].set_title(title, loc="left")
    alt = (f"Two 7-by-24 heatmaps of interactions per hour of the week in UTC, this operator above the benign population. "
           f"Operator: {_quiet(b.hour_of_week)}. Benign population: {_quiet(b.benign_hour_of_week)}.")
    return to_chart(fig, key="hour-of-week", title=title, alt=alt)


def _quiet(counts: Sequence[int]) -> str:
    total = sum(counts)
    if not total:
        return "no interactions"
    by_hour = [sum(counts[d * 24 + h] for d in range(7)) for h in range(24)]
    quiet = sorted(by_hour)[:8]
    busiest = max(range(24), key=lambda h: by_hour[h])
    return (f"{sum(quiet) / total:.0%} of activity in its quietest 8 hours of the day, "
            f"busiest hour {busiest:02d}:00")


def category_mix(b: Behaviour) -> Chart | None:
    if not b.categories:
        return None
    names = list(dict.fromkeys([*b.categories, *b.benign_categories]))[:10]
    op = _shares(b.categories, names)
    ben = _shares(b.benign_categories, names)
    fig = figure(6.4, 0.6 + 0.3 * len(names))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y - 0.2, op, height=0.4, color=OPERATOR, label="this operator")
    ax.barh(y + 0.2, ben, height=0.4, color=BENIGN, label="benign population")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("share of interactions")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    title = "Task-category mix against the benign population"
    ax.set_title(title, loc="left")
    alt = "Share of interactions per task category, operator against benign population: " + "; ".join(
        f"{n} {o:.0%} vs {g:.0%}" for n, o, g in zip(names, op, ben)) + "."
    return to_chart(fig, key="categories", title=title, alt=alt)


def _shares(counts: dict[str, int], names: Sequence[str]) -> list[float]:
    total = sum(counts.values()) or 1
    return [counts.get(n, 0) / total for n in names]


def output_token_profile(b: Behaviour) -> Chart | None:
    if not b.output_tokens:
        return None
    bins = sorted(set(b.output_tokens) | set(b.benign_output_tokens))
    op = _shares({str(k): v for k, v in b.output_tokens.items()}, [str(k) for k in bins])
    ben = _shares({str(k): v for k, v in b.benign_output_tokens.items()}, [str(k) for k in bins])
    labels = [_token_label(k) for k in bins]
    fig = figure(7.2, 2.6)
    ax = fig.add_subplot()
    x = np.arange(len(bins))
    ax.bar(x - 0.2, op, width=0.4, color=OPERATOR, label="this operator")
    ax.bar(x + 0.2, ben, width=0.4, color=BENIGN, label="benign population")
    ax.set_xticks(x, labels, rotation=0, fontsize=7)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("output tokens per interaction (log2 bins)")
    ax.set_ylabel("share of interactions")
    ax.legend(frameon=False, fontsize=8)
    title = "Output-token profile against the benign population"
    ax.set_title(title, loc="left")
    alt = (f"Share of interactions per output-token range, operator against benign population; median bin: operator "
           f"{_median_label(b.output_tokens)}, benign {_median_label(b.benign_output_tokens)} tokens.")
    return to_chart(fig, key="output-tokens", title=title, alt=alt)


def _token_label(b: int) -> str:
    """Bin b starts at 2^b - 1 tokens; labelled by 2^b, in k above a thousand (1k, 2k, 4k ...)."""
    lo = 2**b
    return f"{lo:,}" if lo < 1024 else f"{lo // 1024}k"


def _median_label(hist: dict[int, int]) -> str:
    total = sum(hist.values())
    if not total:
        return "none"
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen * 2 >= total:
            return f"{2**b - 1:,}-{2**(b + 1) - 2:,}"
    return "none"
