"""The scaling plot of docs/benchmarks.md: how time and memory grow with the bundle, log-log.

Drawn with matplotlib through ``sybilgraph.charts`` (the same charting the case file uses): two
panels, one line per measure (dashed for floors and the store on disk), the memory goal as a
horizontal line. Each line's SVG group is named ``series-<measure>`` so tests can find it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from sybilgraph.bench.results import GIB, ScaleResult
from sybilgraph.charts import figure, to_chart

__all__ = ["Panel", "Series", "scaling_svg"]


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    hlines: tuple[tuple[float, str], ...] = field(default=())  # (y, label): a goal or a limit


def _round_label(v: float, _pos: object = None) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


def _log_axis(axis: object) -> None:
    """Round ticks (1, 2, 5 x 10^k) labelled 20k, 5M; no minor labels (they collide)."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # type: ignore[attr-defined]
    axis.set_major_formatter(FuncFormatter(_round_label))  # type: ignore[attr-defined]
    axis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def _draw(ax: Axes, panel: Panel) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axis(ax.xaxis)
    _log_axis(ax.yaxis)
    for s in panel.series:
        pts = sorted((x, y) for x, y in s.points if x > 0 and y > 0)
        if not pts:
            continue
        (line,) = ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", markersize=3,
                          linestyle="--" if s.dashed else "-", label=s.label)
        line.set_gid(f"series-{s.label}")
    for y, label in panel.hlines:
        ax.axhline(y, color="black", linestyle=":", linewidth=1, label=label)
    if panel.hlines:  # room above a goal line, so it does not sit on the frame
        ax.set_ylim(top=max(max(y for y, _ in panel.hlines), ax.get_ylim()[1]) * 1.6)
    ax.set_title(panel.title)
    ax.set_xlabel(panel.x_label)
    ax.set_ylabel(panel.y_label)
    ax.grid(True, which="major", color="#eeeeee")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, frameon=False, fontsize=8)


def render_panels(panels: list[Panel], title: str, alt: str) -> str:
    fig = figure(4.8 * len(panels), 3.6)
    for ax, panel in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        _draw(ax, panel)
    return to_chart(fig, key="scaling", title=title, alt=alt).svg + "\n"


def scaling_svg(results: list[ScaleResult]) -> str:
    """Time and peak memory of each scale against its number of interactions, log-log."""
    rs = sorted((r for r in results if r.sizes.get("interactions")), key=lambda r: r.sizes["interactions"])

    def points(value: Callable[[ScaleResult], float | None]) -> tuple[tuple[float, float], ...]:
        got = [(float(r.sizes["interactions"]), value(r)) for r in rs]
        return tuple((x, float(y)) for x, y in got if y)

    time_panel = Panel("Wall time", "interactions", "seconds", (
        Series("ingest", points(lambda r: r.seconds("ingest"))),
        Series("attribution", points(lambda r: r.seconds("attribute"))),
        Series("floor: pyarrow read", points(lambda r: r.floor_seconds("pyarrow_read")), dashed=True),
        Series("floor: DuckDB group-by", points(lambda r: r.floor_seconds("duckdb_group_by")), dashed=True),
    ))
    memory_panel = Panel("Peak resident memory", "interactions", "GiB", (
        Series("Python", points(lambda r: (r.peak("python") or 0) / GIB)),
        Series("Neo4j JVM", points(lambda r: (r.peak("jvm") or 0) / GIB)),
        Series("Python + JVM together", points(lambda r: (r.peak_python_jvm or 0) / GIB)),
        Series("Neo4j store on disk", points(lambda r: (r.store_bytes or 0) / GIB), dashed=True),
    ), hlines=((12.0, "goal: 12 GiB together"),))
    scales = ", ".join(f"{r.scale:g}" for r in rs) or "none"
    alt = (f"Log-log charts of wall time and peak memory against interactions for scales {scales}: "
           "ingest and attribution beside the pyarrow-read and DuckDB group-by floors; Python, the Neo4j "
           "JVM, both together against the 12 GiB goal, and the store on disk.")
    return render_panels([time_panel, memory_panel], "Time and peak memory against bundle size", alt)
