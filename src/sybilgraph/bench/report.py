"""Markdown for ``sybilgraph bench``: one run's tables, the scaling section of docs/benchmarks.md.

Pure text from ``results.py``'s data. The docs section sits between two markers, so a re-run
replaces it and leaves the hand-written rest of the page alone; it is built from the latest
result of each scale in the results directory, so scales measured by separate runs (a long
scale 1.0 run after the small ones) still appear in one scaling table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sybilgraph.bench.goals import API_GOAL_WORKLOAD, GOAL_SCALE, check_goals
from sybilgraph.bench.results import GIB, BenchRun, Phase, ScaleResult

__all__ = [
    "BEGIN",
    "END",
    "growth_exponent",
    "latest_per_scale",
    "load_runs",
    "render_docs_section",
    "render_run",
    "render_scaling",
    "replace_section",
    "result_name",
]

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

FLOOR_TEXT = {
    "pyarrow_read": ("pyarrow reads every column of every table file (warm: best of 3)", "ingest / pyarrow read"),
    "duckdb_group_by": ("DuckDB groups them by (account_id, ip): count, first and last ts",
                        "ingest aggregate / duckdb group-by"),
    "gds_leiden": ("GDS Leiden alone (stats, concurrency 1) on the projected evidence graph",
                   "attribution communities / bare leiden"),
}


# -- numbers -------------------------------------------------------------------------------------
def _n(v: float | None) -> str:
    if v is None:
        return "-"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.3g}{suffix}"
    return f"{v:.3g}"


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}" if v >= 1 else f"{v:.2f}"


def _gib(v: int | None) -> str:
    return "-" if v is None else f"{v / GIB:.2f}"


def _size(v: int | None) -> str:
    """Bytes on disk: MiB below a tenth of a GiB, where GiB with two decimals says nothing."""
    if v is None:
        return "-"
    return f"{v / GIB:.2f} GiB" if v >= GIB / 10 else f"{v / 1024**2:.0f} MiB"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}x"


def _met(v: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[v]


def growth_exponent(x0: float, y0: float, x1: float, y1: float) -> float | None:
    """k in y ~ x^k between two points (1 = linear growth); None when it is undefined."""
    if min(x0, y0, x1, y1) <= 0 or x0 == x1:
        return None
    return math.log(y1 / y0) / math.log(x1 / x0)


# -- one run -------------------------------------------------------------------------------------
def render_run(run: BenchRun, json_name: str) -> str:
    lines = [f"# sybilgraph bench, {run.started_at}", "", f"`{run.command}`", "", _machine_line(run), ""]
    lines += [(f"All numbers: `{json_name}`. Load average before / after: "
              f"{run.load_average.get('before')} / {run.load_average.get('after')}."), ""]
    for r in run.scales:
        lines += render_scale(r)
    if len(run.scales) > 1:
        lines += ["## Scaling", "", *render_scaling(run.scales)]
    return "\n".join(lines).rstrip() + "\n"


def _machine_line(run: BenchRun) -> str:
    m, s = run.machine, run.settings
    mem = m.get("memory_bytes")
    return (f"Machine: {m.get('cores')} cores, {mem / GIB:.0f} GiB" if mem else f"Machine: {m.get('cores')} cores") + (
        f", {m.get('cpu')}; Neo4j {m.get('neo4j')} ({m.get('neo4j_edition')}), GDS {m.get('gds')}, "
        f"Python {m.get('python')}; heap {s.get('heap')}, page cache {s.get('pagecache')}."
    )


def render_scale(r: ScaleResult) -> list[str]:
    sz = r.sizes
    code = r.code.get("commit") or "?"
    lines = [
        f"## Scale {r.scale:g} (seed {r.seed})", "",
        (f"{sz.get('accounts', 0):,} accounts, {sz.get('interactions', 0):,} interactions, "
        f"{sz.get('rows', 0):,} rows in all; {sz.get('graph_rows', 0):,} graph rows written, "
        f"{sz.get('edges', 0):,} evidence edges, {sz.get('operators', 0):,} operators, "
        f"{sz.get('flagged_operators', 0):,} flagged. Bundle `{r.bundle}` "
        f"({'generated' if r.bundle_generated else 'reused'}); code {code}"
        f"{' with local changes' if r.code.get('dirty') else ''}; measured {r.measured_at}."), "",
    ]
    lines += [f"- {n}" for n in r.notes] + ([""] if r.notes else [])
    lines += ["### Phases", "", *_phase_table(r.phases), "", *_store_lines(r)]
    lines += ["### Floors (same run, same files)", "", *_floor_table(r), ""]
    lines += _ingest_ratio_table(r)
    lines += ["### GDS steps", "", *_gds_table(r), ""]
    if r.api:
        lines += ["### GraphQL latency probe", "", *_api_table(r), ""]
    lines += [f"### Goals (stated for scale {GOAL_SCALE:.1f} on 2 cores / 24 GiB)", "", *_goal_table(r), ""]
    return lines


def _phase_table(phases: list[Phase]) -> list[str]:
    out = ["| phase | seconds | rows/s | of | peak Python GiB | peak JVM GiB | Python + JVM GiB | store files | tx logs |",
           "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for p in phases:
        name = "&emsp;" * p.depth + (f"**{p.name}**" if p.depth == 0 else p.name.split(".", p.depth)[-1])
        approx = "~" if p.approximate_window else ""
        peaks = [p.peak_rss.get("python"), p.peak_rss.get("jvm"), p.peak_python_jvm]
        cells = " | ".join(approx + _gib(v) if v is not None else "-" for v in peaks)
        out.append(f"| {name} | {_s(p.seconds)} | {_n(p.rows_per_s)} | {p.unit or ''} | {cells} | "
                   f"{_size(p.store_bytes)} | {_size(p.tx_log_bytes)} |")
    if any(p.approximate_window for p in phases):
        out += ["", "~ sub-phase memory peaks are cut from windows rebuilt from the phase's own timings."]
    if any("api" in p.peak_rss for p in phases):
        out += ["", "The API server's own peak RSS (a separate process): "
                + ", ".join(f"{_gib(p.peak_rss['api'])} GiB in {p.name}" for p in phases if "api" in p.peak_rss) + "."]
    return out


def _store_lines(r: ScaleResult) -> list[str]:
    """Why the store column lags, and the store's size once checkpointed, when measured."""
    text = ("Store files and transaction logs are measured on disk after each phase; the store files "
            "receive the graph's pages only at checkpoints, so until then they lag behind the graph.")
    rest, logs = r.sizes.get("store_bytes_at_rest"), r.sizes.get("tx_log_bytes_at_rest")
    if rest:
        text += f" After a clean shutdown (checkpointed): store files {_size(rest)}, transaction logs {_size(logs)}."
    return [text, ""]


def _floor_table(r: ScaleResult) -> list[str]:
    out = ["| floor | seconds | rows/s | work it bounds | work / floor |", "|---|---:|---:|---|---:|"]
    ratios = r.ratios
    for key, (text, ratio_key) in FLOOR_TEXT.items():
        f = r.floors.get(key)
        if f is None:
            out.append(f"| {text} | - | - | {ratio_key.split(' / ')[0]} | - |")
            continue
        detail = ", ".join(_detail(k, v) for k, v in f.detail.items())
        out.append(f"| {text} ({detail}) | {_s(f.seconds)} | {_n(f.rows / f.seconds if f.seconds else None)} "
                   f"{f.unit} | {ratio_key.split(' / ')[0]} | {_x(ratios.get(ratio_key))} |")
    return out


def _ingest_ratio_table(r: ScaleResult) -> list[str]:
    """Each ingest sub-phase as a multiple of the pyarrow read floor (issue 12's per-phase view)."""
    floor = r.floor_seconds("pyarrow_read")
    phases = [p for p in r.phases if p.name.startswith("ingest.") and p.depth == 1]
    if not floor or not phases:
        return []
    out = ["### Ingest phases against the pyarrow read floor", "",
           "| ingest phase | seconds | x the read floor |", "|---|---:|---:|"]
    out += [f"| {p.name.split('.', 1)[1]} | {_s(p.seconds)} | {_x(p.seconds / floor)} |" for p in phases]
    ingest = r.seconds("ingest")
    if ingest:
        out.append(f"| **whole ingest** | {_s(ingest)} | **{_x(ingest / floor)}** |")
    return [*out, ""]


def _detail(key: str, value: object) -> str:
    if key == "runs_s" and isinstance(value, list):
        return "best of " + " / ".join(f"{v:.2f}" for v in value) + " s"
    return f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}"


def _gds_table(r: ScaleResult) -> list[str]:
    total = r.seconds("attribute")
    out = ["| step | seconds | share of attribution |", "|---|---:|---:|"]
    for step, s in r.gds_steps.items():
        share = f"{s / total:.0%}" if s is not None and total else "-"
        out.append(f"| {step} | {_s(s)} | {share} |")
    return out


def _api_table(r: ScaleResult) -> list[str]:
    out = ["| workload | clients | requests | errors | p50 ms | p99 ms | req/s | cache hits |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for a in r.api:
        hits = "-" if a.hit_rate is None else f"{a.hit_rate:.0%}"
        out.append(f"| {a.workload} | {a.clients} | {a.requests} | {a.errors} | {a.p50_ms:.1f} | {a.p99_ms:.1f} | {a.rps:.0f} | {hits} |")
    return out


def _goal_table(r: ScaleResult) -> list[str]:
    out = ["| goal | target | measured | | what dominates |", "|---|---|---:|---|---|"]
    for g in check_goals(r):
        out.append(f"| {g.goal} | {g.target} | {g.measured} | {_met(g.met)} | {g.dominant or ''} |")
    return out


# -- scaling -------------------------------------------------------------------------------------
def render_scaling(results: list[ScaleResult]) -> list[str]:
    rs = sorted(results, key=lambda r: r.sizes.get("interactions", 0))
    out = [("| scale | accounts | interactions | ingest s | ingest / read floor | attribution s | export s | "
           "peak Python GiB | peak JVM GiB | together GiB | store at rest |"),
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rs:
        out.append(
            f"| {r.scale:g} | {r.sizes.get('accounts', 0):,} | {r.sizes.get('interactions', 0):,} | "
            f"{_s(r.seconds('ingest'))} | {_x(r.ratios['ingest / pyarrow read'])} | {_s(r.seconds('attribute'))} | "
            f"{_s(r.seconds('export'))} | {_gib(r.peak('python'))} | {_gib(r.peak('jvm'))} | "
            f"{_gib(r.peak_python_jvm)} | {_size(r.store_bytes)} |"
        )
    if len(rs) > 1:
        out += ["", *_growth_lines(rs[0], rs[-1])]
    return out


def _growth_lines(a: ScaleResult, b: ScaleResult) -> list[str]:
    """How each measure grows from the smallest to the largest scale, as an exponent of n."""
    n0, n1 = a.sizes.get("interactions", 0), b.sizes.get("interactions", 0)
    measures = {
        "ingest time": (a.seconds("ingest"), b.seconds("ingest")),
        "attribution time": (a.seconds("attribute"), b.seconds("attribute")),
        "peak Python RSS": (a.peak("python"), b.peak("python")),
        "peak JVM RSS": (a.peak("jvm"), b.peak("jvm")),
        "store on disk": (a.store_bytes, b.store_bytes),
    }
    parts = []
    for name, (y0, y1) in measures.items():
        k = growth_exponent(n0, y0, n1, y1) if y0 and y1 else None
        if k is not None:
            parts.append(f"{name} ~ n^{k:.2f} (x{y1 / y0:.1f})")  # type: ignore[operator]
    if not parts:
        return []
    return [f"From scale {a.scale:g} to {b.scale:g} (n = interactions, x{n1 / n0:.1f}): " + "; ".join(parts) + "."]


# -- docs/benchmarks.md --------------------------------------------------------------------------
def render_docs_section(latest: list[tuple[ScaleResult, BenchRun, str]], svg_path: str | None) -> str:
    """The generated section: scaling table, plot, floors and goals per scale, sources."""
    results = [r for r, _, _ in latest]
    lines = [BEGIN, "", "### Latest result of each scale", "",
             ("Generated by `sybilgraph bench`; re-running it replaces this section. Each scale's "
             "latest result in `bench/results/` is shown; every floor was measured in the same run "
             "as the work it bounds, on the same files."), ""]
    lines += [_machine_line(latest[-1][1]), ""] if latest else []
    lines += render_scaling(results) + [""]
    if svg_path:
        lines += [f"![time and peak memory against interactions, log-log]({svg_path})", ""]
    lines += [("| scale | ingest / pyarrow read | aggregate / DuckDB group-by | communities / bare Leiden | "
              "GDS projection s | Leiden s | write-back s | API p99 ms (account warm, 10 clients) |"),
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(results, key=lambda r: r.sizes.get("interactions", 0)):
        ratios, gds = r.ratios, r.gds_steps
        p99 = next((a.p99_ms for a in r.api if a.clients == 10 and a.workload == API_GOAL_WORKLOAD), None)
        lines.append(f"| {r.scale:g} | {_x(ratios['ingest / pyarrow read'])} | "
                     f"{_x(ratios['ingest aggregate / duckdb group-by'])} | {_x(ratios['attribution communities / bare leiden'])} | "
                     f"{_s(gds['projection'])} | {_s(gds['community detection'])} | {_s(gds['write-back'])} | "
                     f"{'-' if p99 is None else f'{p99:.0f}'} |")
    lines += ["", *_docs_goals(results), "", "Sources: " + ", ".join(_source(r, run, name) for r, run, name in latest) + ".",
              "", END]
    return "\n".join(lines) + "\n"


def _source(r: ScaleResult, run: BenchRun, name: str) -> str:
    """Where a scale's numbers come from, with the load the shared machine was under."""
    load = run.load_average.get("before") or []
    busy = f", load average {load[0]:.1f} at start" if load else ""
    return f"scale {r.scale:g}: `{name}` ({r.measured_at[:10]}, code {r.code.get('commit') or '?'}{busy})"


def _docs_goals(results: list[ScaleResult]) -> list[str]:
    largest = max(results, key=lambda r: r.scale, default=None)
    if largest is None:
        return []
    head = f"Goals (stated for scale {GOAL_SCALE:.1f} on 2 cores / 24 GiB), checked at scale {largest.scale:g}:"
    return [head, "", *_goal_table(largest)]


def replace_section(text: str, section: str) -> str:
    """``text`` with the marked section replaced by ``section`` (appended when there is none)."""
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        return text[:start] + section.rstrip("\n") + text[end + len(END):]
    return text.rstrip("\n") + "\n\n" + section


# -- results directory ---------------------------------------------------------------------------
def result_name(started_at: str, scales: list[float]) -> str:
    """``<YYYY-MM-DD>-s<scale>[-s<scale>...]``; the caller adds .json / .md."""
    return started_at[:10] + "".join(f"-s{s:g}" for s in scales)


def load_runs(directory: Path) -> list[tuple[BenchRun, str]]:
    runs = []
    for path in sorted(directory.glob("*.json")):
        try:
            runs.append((BenchRun.from_dict(json.loads(path.read_text())), path.name))
        except (ValueError, KeyError, TypeError):  # not one of ours, or an older layout
            continue
    return runs


def latest_per_scale(runs: list[tuple[BenchRun, str]]) -> list[tuple[ScaleResult, BenchRun, str]]:
    """The most recently measured result of each scale, smallest scale first."""
    best: dict[float, tuple[ScaleResult, BenchRun, str]] = {}
    for run, name in runs:
        for r in run.scales:
            if r.scale not in best or r.measured_at > best[r.scale][0].measured_at:
                best[r.scale] = (r, run, name)
    return [best[s] for s in sorted(best)]
