"""The scaling plot: well-formed SVG from matplotlib, one line per measure, titled, with alt text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sybilgraph.bench.svg import scaling_svg
from tests.bench.bench_support import scale_result

NS = "{http://www.w3.org/2000/svg}"
MEASURES = {"ingest", "attribution", "floor: pyarrow read", "floor: DuckDB group-by",
            "Python", "Neo4j JVM", "Python + JVM together", "Neo4j store on disk"}


def _series(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("id", "").removeprefix("scaling-series-"): g for g in root.iter(f"{NS}g")
            if g.get("id", "").startswith("scaling-series-")}


def test_scaling_plot_draws_time_and_memory_lines_with_the_memory_goal() -> None:
    results = [scale_result(scale=s, interactions=int(s * 1_000_000), ingest_s=60 * s, write_graph_s=40 * s)
               for s in (0.05, 0.2, 1.0)]
    root = ET.fromstring(scaling_svg(results))
    assert root.tag == f"{NS}svg" and root.get("role") == "img"
    assert root.find(f"{NS}title").text and "0.05, 0.2, 1" in root.find(f"{NS}desc").text
    series = _series(root)
    assert set(series) == MEASURES
    texts = {t.text for t in root.iter(f"{NS}text")}
    assert {"Wall time", "Peak resident memory", "goal: 12 GiB together", "ingest", "Neo4j JVM"} <= texts


def test_the_same_results_give_the_same_file() -> None:
    results = [scale_result(scale=s, interactions=int(s * 1_000_000)) for s in (0.2, 1.0)]
    assert scaling_svg(results) == scaling_svg(results)


def test_a_single_scale_is_drawn_as_points() -> None:
    root = ET.fromstring(scaling_svg([scale_result()]))
    assert set(_series(root)) == MEASURES
