"""The case file's chart kinds drawn by matplotlib and by Vega-Lite (vl-convert), side by side in one process.

How the charting library was chosen (docs/report.md). Needs both libraries; vl-convert is not a
sybilgraph dependency: ``pip install vl-convert-python``. Prints, as JSON, each library's import
time, first call, median and worst of five rounds (wall and CPU time) of four charts (a daily series with the campaign
marked, a 7 x 24 heatmap, feature bars, a histogram) and the SVG bytes:

    python bench/chart_libraries.py
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ROUNDS = 5
DAYS = 60


def _timed_import() -> tuple[Any, Any, dict[str, float]]:
    started, cpu = time.perf_counter(), time.process_time()
    import matplotlib

    matplotlib.use("svg")
    from matplotlib.figure import Figure

    mpl_s, mpl_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    import vl_convert

    return Figure, vl_convert, {"matplotlib": round(mpl_s, 3), "matplotlib_cpu": round(mpl_cpu, 3),
                                "vl_convert": round(time.perf_counter() - started, 3),
                                "vl_convert_cpu": round(time.process_time() - cpu, 3)}


def _data() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    return {
        "daily": rng.integers(100, 5000, DAYS),
        "heat": rng.integers(0, 500, (7, 24)),
        "features": {f"f{i}": float(rng.random()) for i in range(8)},
        "confidence": rng.random(2000),
    }


def matplotlib_charts(figure: Any, d: dict[str, Any]) -> list[str]:
    def svg(size: tuple[float, float], draw: Callable[[Any], None], title: str) -> str:
        fig = figure(figsize=size)
        ax = fig.add_subplot()
        draw(ax)
        ax.set_title(title)
        out = io.StringIO()
        fig.savefig(out, format="svg")
        return out.getvalue()

    def daily(ax: Any) -> None:
        ax.plot(range(DAYS), d["daily"])
        ax.axvline(5)
        ax.axvline(50)

    return [
        svg((7, 2.6), daily, "daily"),
        svg((7, 2.6), lambda ax: ax.imshow(d["heat"], aspect="auto"), "heat"),
        svg((5, 2.6), lambda ax: ax.barh(list(d["features"]), list(d["features"].values())), "features"),
        svg((5, 2.6), lambda ax: ax.hist(d["confidence"], bins=20), "confidence"),
    ]


def vega_lite_charts(vlc: Any, d: dict[str, Any]) -> list[str]:
    def svg(title: str, width: int, values: list[dict[str, Any]], mark: str, encoding: dict[str, Any]) -> str:
        return str(vlc.vegalite_to_svg({"title": title, "width": width, "height": 200, "data": {"values": values},
                                        "mark": mark, "encoding": encoding}))

    q, o, n = "quantitative", "ordinal", "nominal"
    heat = d["heat"]
    return [
        svg("daily", 600, [{"d": i, "n": int(v)} for i, v in enumerate(d["daily"])], "line",
            {"x": {"field": "d", "type": q}, "y": {"field": "n", "type": q}}),
        svg("heat", 600, [{"d": day, "h": h, "n": int(heat[day, h])} for day in range(7) for h in range(24)], "rect",
            {"x": {"field": "h", "type": o}, "y": {"field": "d", "type": o}, "color": {"field": "n", "type": q}}),
        svg("features", 400, [{"f": k, "v": v} for k, v in d["features"].items()], "bar",
            {"y": {"field": "f", "type": n}, "x": {"field": "v", "type": q}}),
        svg("confidence", 400, [{"c": float(c)} for c in d["confidence"]], "bar",
            {"x": {"field": "c", "bin": {"maxbins": 20}}, "y": {"aggregate": "count"}}),
    ]


def measure(draw: Callable[[], list[str]]) -> dict[str, Any]:
    """Wall and CPU time (this process, all its threads: vl-convert renders on its own) of the first
    call and of ``ROUNDS`` more; on a shared 2-core machine CPU time is the steadier figure."""
    started, cpu = time.perf_counter(), time.process_time()
    svgs = draw()
    first, first_cpu = time.perf_counter() - started, time.process_time() - cpu
    rounds, cpus = [], []
    for _ in range(ROUNDS):
        started, cpu = time.perf_counter(), time.process_time()
        svgs = draw()
        rounds.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return {"first_call_s": round(first, 3), "first_call_cpu_s": round(first_cpu, 3),
            "median_4_charts_s": round(statistics.median(rounds), 3), "worst_s": round(max(rounds), 3),
            "median_cpu_s": round(statistics.median(cpus), 3), "svg_bytes": sum(len(s) for s in svgs)}


def main() -> None:
    figure, vlc, imports = _timed_import()
    d = _data()
    result = {
        "matplotlib": measure(lambda: matplotlib_charts(figure, d)),
        "vega-lite (vl-convert)": measure(lambda: vega_lite_charts(vlc, d)),
        "import_s": imports,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
