"""``sybilgraph bench``: run the pipeline benchmark and write what it measured.

Writes ``<out>/<date>-s<scale>....json`` (every number, machine and versions) and a Markdown
twin, then regenerates the marked section of docs/benchmarks.md and its SVG plot from the latest
result of each scale found in ``<out>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sybilgraph.bench.pipeline_bench import BenchOptions, Log, Server, run_bench
from sybilgraph.bench.report import (
    latest_per_scale,
    load_runs,
    render_docs_section,
    render_run,
    replace_section,
    result_name,
)
from sybilgraph.bench.results import BenchRun
from sybilgraph.bench.svg import scaling_svg
from sybilgraph.db.session import Database

__all__ = ["BenchFiles", "bench_command", "write_docs", "write_results"]

SVG_NAME = "bench-scaling.svg"


@dataclass(frozen=True)
class BenchFiles:
    json: Path
    markdown: Path
    docs: Path | None
    svg: Path | None


def bench_command(
    db: Database, server: Server, options: BenchOptions, out_dir: Path, docs: Path | None, command: str, log: Log = print
) -> tuple[BenchRun, BenchFiles]:
    run = run_bench(db, server, options, command, log)
    json_path, md_path = write_results(run, out_dir)
    svg_path = write_docs(out_dir, docs) if docs else None
    return run, BenchFiles(json_path, md_path, docs, svg_path)


def write_results(run: BenchRun, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = result_name(run.started_at, [s.scale for s in run.scales])
    if (out_dir / f"{name}.json").exists():  # a second run the same day keeps the first
        name += "-" + run.started_at[11:19].replace(":", "")
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    _write_atomically(json_path, json.dumps(run.to_dict(), indent=1) + "\n")
    _write_atomically(md_path, render_run(run, json_path.name))
    return json_path, md_path


def write_docs(out_dir: Path, docs: Path) -> Path | None:
    """Regenerate the docs section (and plot) from the latest result of each scale in ``out_dir``."""
    latest = latest_per_scale(load_runs(out_dir))
    if not latest:
        return None
    svg_path = docs.parent / SVG_NAME
    _write_atomically(svg_path, scaling_svg([r for r, _, _ in latest]))
    section = render_docs_section(latest, os.path.relpath(svg_path, docs.parent))
    text = docs.read_text() if docs.is_file() else "# Benchmarks\n"
    _write_atomically(docs, replace_section(text, section))
    return svg_path


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
