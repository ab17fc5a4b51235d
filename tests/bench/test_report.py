"""Markdown of a bench run, the docs section between its markers, and the results directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sybilgraph.bench.command import write_docs, write_results
from sybilgraph.bench.report import (
    BEGIN,
    END,
    growth_exponent,
    latest_per_scale,
    load_runs,
    render_run,
    replace_section,
    result_name,
)
from sybilgraph.bench.results import BenchRun
from tests.bench.bench_support import bench_run, scale_result


def test_a_run_renders_phases_floors_gds_steps_api_and_goals() -> None:
    md = render_run(bench_run(scale_result(scale=0.2)), "2026-11-29-s0.2.json")
    for heading in ("## Scale 0.2 (seed 1)", "### Phases", "### Floors", "### GDS steps",
                    "### GraphQL latency probe", "### Goals"):
        assert heading in md
    assert "| **ingest** | 60.0 | 16.7k | interactions |" in md  # 1M interactions in 60 s
    assert "&emsp;&emsp;projection" in md  # a step inside a sub-phase is indented twice
    assert "| ingest | 12.0x |" in md  # 60 s over the 5 s pyarrow floor
    assert "**missed**" in md and "ingest.write_graph" in md  # 12x misses the 10x goal
    assert "## Scaling" not in md  # one scale: nothing to scale against


def test_several_scales_get_a_scaling_table_with_growth_exponents() -> None:
    small = scale_result(scale=0.1, ingest_s=6.0, write_graph_s=4.0, interactions=100_000)
    large = scale_result(scale=1.0, ingest_s=60.0, write_graph_s=40.0, interactions=1_000_000)
    md = render_run(bench_run(large, small), "x.json")
    scaling = md[md.index("## Scaling"):]
    assert scaling.index("| 0.1 |") < scaling.index("| 1 |")  # ordered by size, not by run order
    assert "ingest time ~ n^1.00 (x10.0)" in scaling


@pytest.mark.parametrize(("x0", "y0", "x1", "y1", "k"), [(1, 1, 10, 10, 1.0), (1, 5, 100, 5, 0.0), (2, 1, 8, 16, 2.0)])
def test_growth_exponent(x0: float, y0: float, x1: float, y1: float, k: float) -> None:
    assert growth_exponent(x0, y0, x1, y1) == pytest.approx(k)


def test_growth_exponent_is_undefined_without_growth_in_n_or_with_zeros() -> None:
    assert growth_exponent(1, 1, 1, 2) is None
    assert growth_exponent(1, 0, 10, 2) is None


def test_section_replaces_only_between_markers_and_re_running_is_stable() -> None:
    page = f"# Benchmarks\n\nhand-written\n\n{BEGIN}\nold\n{END}\n\n## Kept after\n"
    once = replace_section(page, f"{BEGIN}\nnew\n{END}\n")
    assert "old" not in once and "new" in once
    assert once.startswith("# Benchmarks\n\nhand-written") and once.endswith("## Kept after\n")
    assert replace_section(once, f"{BEGIN}\nnew\n{END}\n") == once


def test_section_is_appended_to_a_page_without_markers() -> None:
    out = replace_section("# Benchmarks\n", f"{BEGIN}\nnew\n{END}\n")
    assert out == f"# Benchmarks\n\n{BEGIN}\nnew\n{END}\n"


def test_result_names_carry_the_date_and_scales() -> None:
    assert result_name("2026-11-29T10:00:00+00:00", [0.05, 0.2, 1.0]) == "2026-11-29-s0.05-s0.2-s1"


def test_results_round_trip_through_json() -> None:
    run = bench_run(scale_result(scale=0.05), scale_result(scale=0.2))
    back = BenchRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert back == run
    assert run.to_dict()["scales"][0]["ratios"]["ingest / pyarrow read"] == pytest.approx(12.0)


def test_docs_take_the_latest_result_of_each_scale_across_runs(tmp_path: Path) -> None:
    out = tmp_path / "results"
    early = bench_run(scale_result(scale=0.05, measured_at="2026-11-28T10:00:00+00:00"),
                      scale_result(scale=0.2, measured_at="2026-11-28T10:10:00+00:00"),
                      started_at="2026-11-28T10:00:00+00:00")
    later = bench_run(scale_result(scale=0.05, ingest_s=7.0, write_graph_s=3.0, measured_at="2026-11-29T09:00:00+00:00"),
                      started_at="2026-11-29T09:00:00+00:00")
    write_results(early, out)
    json_path, md_path = write_results(later, out)
    assert json_path.name == "2026-11-29-s0.05.json" and md_path.is_file()
    latest = latest_per_scale(load_runs(out))
    assert [(r.scale, name) for r, _, name in latest] == [(0.05, "2026-11-29-s0.05.json"), (0.2, "2026-11-28-s0.05-s0.2.json")]

    docs = tmp_path / "docs" / "benchmarks.md"
    docs.parent.mkdir()
    docs.write_text("# Benchmarks\n\nhand-written\n")
    svg = write_docs(out, docs)
    text = docs.read_text()
    assert svg == docs.parent / "bench-scaling.svg" and svg.is_file()
    assert text.startswith("# Benchmarks\n\nhand-written\n") and text.count(BEGIN) == 1
    assert "![time and peak memory against interactions, log-log](bench-scaling.svg)" in text
    assert "| 0.05 | 10,000 | 1,000,000 | 7.0 |" in text  # the later 0.05 result, not the earlier
    write_docs(out, docs)
    assert docs.read_text() == text  # regenerating from the same results changes nothing


def test_a_second_run_the_same_day_keeps_the_first(tmp_path: Path) -> None:
    first, _ = write_results(bench_run(scale_result(), started_at="2026-11-29T10:00:00+00:00"), tmp_path)
    second, _ = write_results(bench_run(scale_result(), started_at="2026-11-29T11:30:05+00:00"), tmp_path)
    assert first.name == "2026-11-29-s1.json" and second.name == "2026-11-29-s1-113005.json"
