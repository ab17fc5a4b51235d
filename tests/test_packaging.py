"""The wheel works without the checkout: built, installed into a new virtualenv outside the
repository, and run from another directory through the whole pipeline (db start, ingest of the
seed bundle, attribute, serve), exactly as a user who ran ``pip install sybilgraph`` would.

Offline: the wheel is installed with ``--no-index --no-deps``, and its core dependencies (the
closure of its ``Requires-Dist`` without extras) are linked in from this virtualenv, which
install.sh filled from ``constraints.txt``; ``pip check`` then proves that they satisfy what the
wheel declares, and the extras' packages are absent. No download beyond install.sh's.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "wheel-admin-7Qm2Zx9Lp4Rt8Vn3Kd6Hs1Jf"
MASK_KEY = "wheel-mask-Xc4Vb7Nm1Qa9Ws3Ed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,), timeout: float = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode in ok, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _wheel_requirements(wheel: Path) -> list[str]:
    metadata = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    lines = zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
    return [line.removeprefix("Requires-Dist:").strip() for line in lines if line.startswith("Requires-Dist:")]


def _core_closure(requirements: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions the requirements need, transitively, without the wheel's own
    extras (a dependency's extras that a requirement names are followed)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        dist = found.setdefault(name, importlib.metadata.distribution(requirement.name))
        for wanted in ("", *requirement.extras):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return found


def _link_dependencies(wheel: Path, site_packages: Path) -> list[str]:
    """Link each core dependency's top-level files (packages, modules, .libs, dist-info) into the
    new virtualenv's site-packages, as an install of the same pinned wheels would place them."""
    linked = []
    for name, dist in sorted(_core_closure(_wheel_requirements(wheel)).items()):
        assert dist.files, f"{name} has no RECORD: cannot tell its files"
        tops = {f.parts[0] for f in dist.files if f.parts[0] not in ("..", "__pycache__")}
        for top in tops:
            source, target = Path(str(dist.locate_file(top))), site_packages / top
            if source.exists() and not target.exists():
                target.symlink_to(source, target_is_directory=source.is_dir())
        linked.append(name)
    return linked


def _export_sources(target: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored) as they are in the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        path = REPO / name
        if path.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / name)
    return target


def _clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """No trace of the checkout or of the test session's settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SYBILGRAPH_", "NEO4J_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_wheel_installed_outside_the_checkout_runs_the_pipeline(tmp_path: Path) -> None:
    assert not tmp_path.resolve().is_relative_to(REPO)
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()

    # Build from a clean copy of the sources (an in-tree build/ could hold stale modules): the
    # statements and the launcher's Maven project go inside the wheel.
    source = _export_sources(tmp_path / "src")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
         cwd=tmp_path, env=dict(os.environ))
    wheel = next(dist.glob("sybilgraph-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    statements = {p.relative_to(REPO / "cypher").as_posix() for p in (REPO / "cypher").rglob("*.cypher")}
    assert {n.removeprefix("sybilgraph/_cypher/") for n in names if n.endswith(".cypher")} == statements
    assert "sybilgraph/_launcher/pom.xml" in names
    assert any(n.startswith("sybilgraph/_launcher/src/") and n.endswith(".java") for n in names)
    assert any(n.endswith("/licenses/LICENSE") for n in names)
    tracked = subprocess.run(["git", "ls-files", "src/sybilgraph"], cwd=REPO, capture_output=True, text=True).stdout.split()
    missing = [p for p in tracked if p.removeprefix("src/") not in names]
    assert missing == [], f"files of the package missing from the wheel (add them to package-data): {missing}"

    # Install into a new virtualenv, offline, pinned; only the core dependencies.
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=dict(os.environ))
    py = str(venv / "bin" / "python")
    env = _clean_env(venv, SYBILGRAPH_BOLT_PORT=str(_free_port()), SYBILGRAPH_HEAP="1g", SYBILGRAPH_PAGECACHE="256m")
    site_packages = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=work, env=env).strip())
    linked = _link_dependencies(wheel, site_packages)
    assert {"neo4j", "graphdatascience", "fastapi"} <= set(linked)
    _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--no-deps", str(wheel)],
         cwd=work, env=env)
    _run([py, "-m", "pip", "check"], cwd=work, env=env)  # every Requires-Dist of the wheel is satisfied
    located = json.loads(_run([py, "-c", "import json, sybilgraph, sybilgraph.cypher as c; "
                                         "print(json.dumps([sybilgraph.__file__, str(c.CYPHER_DIR)]))"], cwd=work, env=env))
    assert all(Path(p).is_relative_to(venv) for p in located), located
    for absent in ("pyspark", "networkx"):  # extras, not core dependencies
        _run([py, "-c", f"import importlib.util, sys; sys.exit(importlib.util.find_spec('{absent}') is not None)"],
             cwd=work, env=env)
    version = _run([py, "-m", "sybilgraph", "--version"], cwd=work, env=env)
    assert version == _run(["sybilgraph", "--version"], cwd=work, env=env)
    assert version.startswith("sybilgraph ")

    # The pipeline, from a directory that is not the checkout (home: ./var there).
    sg = str(venv / "bin" / "sybilgraph")
    try:
        _run([sg, "db", "start"], cwd=work, env=env)
        assert (work / "var" / "neo4j").is_dir()
        _run([sg, "ingest", str(REPO / "seeds" / "bundle")], cwd=work, env=env, ok=(0, 3))  # 3: rows quarantined
        counts = json.loads(_run([sg, "attribute"], cwd=work, env=env).strip().splitlines()[-1])
        assert counts["operators"] > 0 and counts["attributed"] > 0
        _serve_and_query(sg, work, env, counts["operators"])
    finally:
        subprocess.run([sg, "db", "stop"], cwd=work, env=env, capture_output=True, timeout=300)


def _serve_and_query(sg: str, work: Path, env: dict[str, str], operators: int) -> None:
    port = _free_port()
    serve_env = {**env, "SYBILGRAPH_API_KEYS": json.dumps({ADMIN_KEY: {"user": "wheel", "role": "admin"}}),
                 "SYBILGRAPH_API_MASK_KEY": MASK_KEY, "SYBILGRAPH_API_AUDIT_KEY": MASK_KEY[::-1]}
    with open(work / "serve.log", "wb") as log:
        server = subprocess.Popen([sg, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=work, env=serve_env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (work / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, (work / "serve.log").read_text()
            time.sleep(0.5)
        request = urllib.request.Request(
            f"{base}/graphql", method="POST",
            data=json.dumps({"query": "{ operators(first: 3) { totalCount } }"}).encode(),
            headers={"content-type": "application/json", "X-API-Key": ADMIN_KEY},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            body = json.loads(r.read())
        assert body == {"data": {"operators": {"totalCount": operators}}}, body
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
