"""What a benchmark ran on: the machine, versions, and the Neo4j store's footprint on disk."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# The checkout the code runs from (src/sybilgraph/bench/ -> root): the commit benchmarks report.
SOURCE_ROOT = Path(__file__).resolve().parents[3]

__all__ = ["disk_usage", "git_commit", "load_average", "machine_info"]

PACKAGES = ("sybilgraph", "pyarrow", "duckdb", "neo4j", "graphdatascience", "numpy", "fastapi", "strawberry-graphql")


def disk_usage(path: Path) -> int | None:
    """Bytes allocated on disk under ``path`` (blocks, not apparent sizes: store files are sparse
    and preallocated); None when the directory does not exist here."""
    if not path.is_dir():
        return None
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:  # a log rotated away while we walked
                continue
    return total


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def git_commit() -> dict[str, Any]:
    """The commit measured, and whether the code (src/, cypher/) differed from it."""
    head = _git("rev-parse", "--short", "HEAD")
    if head is None or head.returncode != 0:
        return {"commit": None, "dirty": None}
    diff = _git("diff", "--quiet", "HEAD", "--", "src", "cypher")
    return {"commit": head.stdout.strip(), "dirty": None if diff is None else diff.returncode != 0}


def _git(*args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", *args], check=False, cwd=SOURCE_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(versions: dict[str, Any]) -> dict[str, Any]:
    """Cores, RAM, CPU model, OS, Python and package versions, plus ``versions`` (Neo4j, GDS)."""
    return {
        "cores": os.cpu_count(),
        "memory_bytes": _mem_total(),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in PACKAGES},
        **versions,
    }


def _mem_total() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
