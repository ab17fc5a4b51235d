"""The issue's goals on hand-made results: met, missed with what dominates, not measured."""

from __future__ import annotations

from sybilgraph.bench.goals import GoalCheck, check_goals, dominant_child
from sybilgraph.bench.results import ScaleResult
from tests.bench.bench_support import scale_result


def _by_goal(r: ScaleResult) -> dict[str, GoalCheck]:
    return {g.goal.split()[0]: g for g in check_goals(r)}


def test_every_goal_met_names_no_dominant_phase() -> None:
    goals = _by_goal(scale_result(ingest_s=40.0, write_graph_s=20.0, attribute_s=80.0, operators_s=30.0, python_gib=4, jvm_gib=5))
    assert [g.met for g in goals.values()] == [True, True, True, True]
    assert all(g.dominant is None for g in goals.values())
    assert goals["ingest"].measured == "8.0x"  # 40 s over a 5 s read floor


def test_slow_ingest_is_blamed_on_its_largest_sub_phase_with_its_own_floor_ratio() -> None:
    g = _by_goal(scale_result(ingest_s=150.0, write_graph_s=100.0))["ingest"]
    assert g.met is False and g.measured == "30.0x"
    assert g.dominant is not None and g.dominant.startswith("ingest.write_graph (100.0 s, 67% of ingest")
    assert "20.0x the read floor alone" in g.dominant


def test_slow_attribution_is_blamed_on_its_largest_sub_phase() -> None:
    g = _by_goal(scale_result(attribute_s=240.0, operators_s=150.0))["attribution"]
    assert g.met is False and g.measured == "240.0 s"
    assert g.dominant is not None and g.dominant.startswith("attribute.operators (150.0 s, 62% of attribute")


def test_memory_over_the_goal_names_the_sub_phase_where_it_peaked() -> None:
    g = _by_goal(scale_result(python_gib=7.5, jvm_gib=5.2))["peak"]
    assert g.met is False and g.measured == "12.70 GiB"
    assert g.dominant == "attribute.similarity (Python 7.50 GiB, JVM 5.20 GiB)"


def test_memory_goal_is_not_measured_without_the_jvm() -> None:
    g = _by_goal(scale_result(jvm_gib=None))["peak"]
    assert g.met is None and g.dominant is None and "not measured" in g.measured


def test_dominant_child_looks_only_one_level_down() -> None:
    r = scale_result()
    top = dominant_child(r, "attribute")
    assert top is not None and top.name == "attribute.operators"
    inner = dominant_child(r, "attribute.communities")
    assert inner is not None and inner.name == "attribute.communities.projection"
    assert dominant_child(r, "export") is None


def test_the_api_goal_reads_the_warm_account_workload_at_10_clients() -> None:
    r = scale_result()
    g = _by_goal(r)["GraphQL"]
    assert (g.met, g.measured, g.dominant) == (True, "900 req/s, p99 20.0 ms, 100% cache hits", None)
    r.api[1].p99_ms = 45.0
    g = _by_goal(r)["GraphQL"]
    assert g.met is False and g.dominant == "cold cache: 150 req/s, p99 60.0 ms"
    r.api = r.api[:1]
    assert _by_goal(r)["GraphQL"].met is None
