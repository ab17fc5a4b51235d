"""The scaling plot: well-formed SVG, one line per measure, round ticks on log axes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from sybilgraph.bench.svg import log_ticks, scaling_svg
from tests.bench.bench_support import scale_result

NS = "{http://www.w3.org/2000/svg}"


def test_log_ticks_are_round_numbers_inside_the_range() -> None:
    assert log_ticks(0.3, 30) == pytest.approx([0.5, 1, 2, 5, 10, 20])
    assert log_ticks(1, 1e6) == pytest.approx([1, 10, 100, 1e3, 1e4, 1e5, 1e6])  # decades only when many
    assert log_ticks(0, 10) == [] and log_ticks(10, 1) == []


def test_scaling_plot_draws_time_and_memory_lines_with_the_memory_goal() -> None:
    results = [scale_result(scale=s, interactions=int(s * 1_000_000), ingest_s=60 * s, write_graph_s=40 * s)
               for s in (0.05, 0.2, 1.0)]
    svg = scaling_svg(results)
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 8  # ingest, attribution, two floors; Python, JVM, together, store
    assert all(len(line.get("points", "").split()) == 3 for line in lines)
    texts = {t.text for t in root.iter(f"{NS}text")}
    assert {"Wall time", "Peak resident memory", "goal: 12 GiB together", "ingest", "Neo4j JVM"} <= texts


def test_a_single_scale_is_drawn_as_points() -> None:
    root = ET.fromstring(scaling_svg([scale_result()]))
    assert root.findall(f"{NS}polyline") == []
    assert len(root.findall(f"{NS}circle")) == 8
