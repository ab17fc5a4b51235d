"""Log-log line charts as plain SVG text: how time and memory grow with the bundle.

Plain Python rather than a plotting library: two small charts do not justify a dependency the
install script would have to fetch, and the output is deterministic text that diffs well.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from sybilgraph.bench.results import GIB, ScaleResult

__all__ = ["Chart", "Series", "log_ticks", "render_charts", "scaling_svg"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#7f7f7f")
WIDTH, HEIGHT = 460, 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 36, 92


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    hlines: tuple[tuple[float, str], ...] = field(default=())  # (y, label): a goal or a limit


def log_ticks(lo: float, hi: float) -> list[float]:
    """Round values (1, 2, 5 x 10^k) inside [lo, hi]; only powers of ten when those are many."""
    if lo <= 0 or hi <= 0 or hi < lo:
        return []
    ticks = [m * 10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
             for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    if len(ticks) > 8:
        ticks = [t for t in ticks if math.isclose(10 ** round(math.log10(t)), t)]
    return ticks


def _tick_label(v: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


@dataclass(frozen=True)
class _Axes:
    """Maps data to pixels on log axes, within one chart placed at (left, top)."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    left: float
    top: float

    def x(self, v: float) -> float:
        return self.left + MARGIN_LEFT + _frac(v, self.x_range) * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, v: float) -> float:
        return self.top + HEIGHT - MARGIN_BOTTOM - _frac(v, self.y_range) * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)


def _frac(v: float, r: tuple[float, float]) -> float:
    lo, hi = math.log10(r[0]), math.log10(r[1])
    return (math.log10(v) - lo) / (hi - lo) if hi > lo else 0.5


def _padded_range(values: list[float]) -> tuple[float, float]:
    positive = [v for v in values if v > 0] or [1.0]
    return min(positive) / 1.6, max(positive) * 1.6


def _chart(chart: Chart, left: float) -> list[str]:
    xs = [x for s in chart.series for x, _ in s.points]
    ys = [y for s in chart.series for _, y in s.points] + [y for y, _ in chart.hlines]
    ax = _Axes(_padded_range(xs), _padded_range(ys), left, 0)
    out = [f'<text x="{left + WIDTH / 2}" y="20" text-anchor="middle" font-weight="bold">{escape(chart.title)}</text>']
    out += _grid(ax, chart)
    for i, s in enumerate(chart.series):
        out += _series(ax, s, PALETTE[i % len(PALETTE)])
    for y, label in chart.hlines:
        out.append(f'<line x1="{ax.x(ax.x_range[0]):.1f}" x2="{ax.x(ax.x_range[1]):.1f}" y1="{ax.y(y):.1f}" '
                   f'y2="{ax.y(y):.1f}" stroke="#000" stroke-dasharray="2 3"/>')
        # At the left, below the line: the data starts right of the padding there.
        out.append(f'<text x="{ax.x(ax.x_range[0]) + 4:.1f}" y="{ax.y(y) + 13:.1f}">{escape(label)}</text>')
    out += _legend(chart, left)
    return out


def _grid(ax: _Axes, chart: Chart) -> list[str]:
    out = []
    x0, x1 = ax.x(ax.x_range[0]), ax.x(ax.x_range[1])
    y0, y1 = ax.y(ax.y_range[0]), ax.y(ax.y_range[1])
    out.append(f'<rect x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}" fill="none" stroke="#999"/>')
    for t in log_ticks(*ax.x_range):
        out.append(f'<line x1="{ax.x(t):.1f}" x2="{ax.x(t):.1f}" y1="{y0:.1f}" y2="{y1:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{ax.x(t):.1f}" y="{y0 + 14:.1f}" text-anchor="middle">{_tick_label(t)}</text>')
    for t in log_ticks(*ax.y_range):
        out.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{ax.y(t):.1f}" y2="{ax.y(t):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 4:.1f}" y="{ax.y(t) + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y0 + 30:.1f}" text-anchor="middle">{escape(chart.x_label)}</text>')
    out.append(f'<text transform="translate({ax.left + 14:.1f} {(y0 + y1) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(chart.y_label)}</text>')
    return out


def _series(ax: _Axes, s: Series, colour: str) -> list[str]:
    pts = [(ax.x(x), ax.y(y)) for x, y in sorted(s.points) if x > 0 and y > 0]
    dash = ' stroke-dasharray="6 4"' if s.dashed else ""
    out = []
    if len(pts) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
    out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in pts]
    return out


def _legend(chart: Chart, left: float) -> list[str]:
    out = []
    top = HEIGHT - MARGIN_BOTTOM + 44
    for i, s in enumerate(chart.series):
        x = left + MARGIN_LEFT + (i % 2) * 190
        y = top + (i // 2) * 16
        colour = PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<line x1="{x}" x2="{x + 22}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 28}" y="{y}">{escape(s.label)}</text>')
    return out


def render_charts(charts: list[Chart]) -> str:
    width = WIDTH * len(charts)
    body = [line for i, c in enumerate(charts) for line in _chart(c, i * WIDTH)]
    return "\n".join([
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" font-family="sans-serif" font-size="11">'),
        f'<rect width="{width}" height="{HEIGHT}" fill="#fff"/>',
        *body,
        "</svg>",
        "",
    ])


def scaling_svg(results: list[ScaleResult]) -> str:
    """Time and peak memory of each scale against its number of interactions, log-log."""
    rs = sorted((r for r in results if r.sizes.get("interactions")), key=lambda r: r.sizes["interactions"])

    def points(value: Callable[[ScaleResult], float | None]) -> tuple[tuple[float, float], ...]:
        got = [(float(r.sizes["interactions"]), value(r)) for r in rs]
        return tuple((x, float(y)) for x, y in got if y)

    time_chart = Chart("Wall time", "interactions", "seconds", (
        Series("ingest", points(lambda r: r.seconds("ingest"))),
        Series("attribution", points(lambda r: r.seconds("attribute"))),
        Series("floor: pyarrow read", points(lambda r: r.floor_seconds("pyarrow_read")), dashed=True),
        Series("floor: DuckDB group-by", points(lambda r: r.floor_seconds("duckdb_group_by")), dashed=True),
    ))
    memory_chart = Chart("Peak resident memory", "interactions", "GiB", (
        Series("Python", points(lambda r: (r.peak("python") or 0) / GIB)),
        Series("Neo4j JVM", points(lambda r: (r.peak("jvm") or 0) / GIB)),
        Series("Python + JVM together", points(lambda r: (r.peak_python_jvm or 0) / GIB)),
        Series("Neo4j store on disk", points(lambda r: (r.store_bytes or 0) / GIB), dashed=True),
    ), hlines=((12.0, "goal: 12 GiB together"),))
    return render_charts([time_chart, memory_chart])

