"""What a fresh machine lacks is said in a sentence: ``scripts/install.sh`` with an old Python,
``sybilgraph db build`` (which install.sh runs) without Maven. Neither prints a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_install_refuses_an_old_python_with_a_message(tmp_path: Path) -> None:
    old = tmp_path / "python3.10"
    old.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.10.12"; exit 0; fi\nexit 1\n')
    old.chmod(0o755)
    proc = subprocess.run(["bash", str(REPO / "scripts" / "install.sh")], env={**os.environ, "PYTHON": str(old)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"sybilgraph needs Python 3.11 or newer; '{old}' is Python 3.10.12." in proc.stderr
    assert "PYTHON=python3.11 bash" in proc.stderr and proc.stdout == ""  # stopped before anything was made


def test_building_the_local_neo4j_without_maven_says_so(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "bin"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "SYBILGRAPH_HOME": str(tmp_path / "home")}
    env.pop("SYBILGRAPH_LAUNCHER_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "sybilgraph.cli", "db", "build"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "Maven ('mvn') is not on PATH; it is needed to build the local Neo4j" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
