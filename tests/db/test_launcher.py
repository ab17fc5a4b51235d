"""The local Neo4j + GDS is real: versions, GDS procedures, a clean stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from sybilgraph.db.launcher import LocalNeo4j
from sybilgraph.db.session import Database
from sybilgraph.errors import DatabaseUnavailable
from sybilgraph.settings import Settings
from tests.together import run_together

pytestmark = pytest.mark.integration

REQUIRED_PROCEDURES = (
    "gds.wcc.stream",
    "gds.louvain.stream",
    "gds.leiden.stream",
    "gds.nodeSimilarity.stream",
    "gds.labelPropagation.stream",
    "gds.graph.project",
)


def test_versions_are_the_pinned_lts_and_gds(session_db: Database) -> None:
    v = session_db.versions()
    assert v.neo4j.startswith("5.26.")
    assert v.gds is not None and v.gds.startswith("2.13")


def test_required_gds_procedures_are_registered(session_db: Database) -> None:
    with session_db.session() as s:
        names = {r["name"] for r in s.run("SHOW PROCEDURES YIELD name WHERE name STARTS WITH 'gds.' RETURN name")}
    missing = [p for p in REQUIRED_PROCEDURES if p not in names]
    assert not missing


def test_gds_algorithms_run_through_the_python_client(db: Database) -> None:
    with db.session() as s:
        s.run(
            "UNWIND range(0, 7) AS i CREATE (:T {i: i})"
        ).consume()
        s.run(
            "MATCH (a:T), (b:T) WHERE a.i < b.i AND (a.i < 4) = (b.i < 4) CREATE (a)-[:R {w: 1.0}]->(b)"
        ).consume()
    gds = db.gds()
    with gds.graph.project.native(
        "t_tiny", "T", {"R": {"orientation": "UNDIRECTED", "properties": "w"}}
    ) as g:
        streams = {
            "wcc": gds.wcc.stream(g, concurrency=1),
            "louvain": gds.louvain.stream(g, concurrency=1),
            "leiden": gds.leiden.stream(g, random_seed=7, concurrency=1, relationship_weight_property="w"),
            "lpa": gds.label_propagation.stream(g, concurrency=1),
        }
        sim = gds.node_similarity.stream(g, top_k=3, concurrency=1)
        assert gds.graph.exists("t_tiny")
    assert not gds.graph.exists("t_tiny"), "the projection is dropped when its block ends"
    for name, frame in streams.items():
        col = "componentId" if name == "wcc" else "communityId"
        nodes = gds.util.as_nodes(frame["nodeId"].tolist())
        part: dict[int, set[int]] = {}
        for node, c in zip(nodes, frame[col].tolist()):
            part.setdefault(c, set()).add(node["i"])
        assert sorted(sorted(v) for v in part.values()) == [[0, 1, 2, 3], [4, 5, 6, 7]], name
    assert len(sim) > 0 and sim["similarity"].between(0, 1).all()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_store_needs_no_recovery(tmp_path: Path) -> None:
    import os

    if os.environ.get("NEO4J_URI"):
        pytest.skip("the suite runs against an external Neo4j")
    # Its own HTTP port too: the default 7474 may be another run's (Neo4j Browser, visual).
    settings = Settings(home=tmp_path, bolt_port=_free_port(), http_port=_free_port(), heap="1g", pagecache="128m")
    local = LocalNeo4j(settings)
    local.start()
    try:
        with Database(settings) as db:
            db.read_raw("RETURN 1")
            with db.session() as s:
                s.run("CREATE (:Probe {v: 42})").consume()
    finally:
        assert local.stop()
    assert not local.state().running
    assert not (settings.neo4j_home / "ready").exists()
    # The first server of a build dumps its classes when it stops; every later one maps them.
    assert local.class_archive.is_file() and not local.class_dump.exists()
    local.start()
    try:
        cmdline = Path(f"/proc/{local.state().pid}/cmdline").read_bytes().split(b"\0")
        assert f"-XX:SharedArchiveFile={local.class_archive}".encode() in cmdline
        with Database(settings) as db:
            assert db.read_raw("MATCH (p:Probe) RETURN p.v AS v") == [{"v": 42}]
    finally:
        local.stop()
    debug = (settings.neo4j_home / "logs" / "debug.log").read_text(errors="replace")
    assert "Recovery completed" not in debug and "recovery required" not in debug.lower()



@pytest.mark.slow
def test_commands_starting_the_local_neo4j_at_once_share_one_server(tmp_path: Path) -> None:
    """``sybilgraph serve`` and ``sybilgraph ingest`` started together on a fresh home: each finds
    nothing running, and without a start lock both spawned a JVM on one store (the loser's
    clean-up could then stop the winner's server). And no start gets through while a store is
    held stopped (``LocalNeo4j.stopped``, the bulk import's window)."""
    import os
    import threading

    if os.environ.get("NEO4J_URI"):
        pytest.skip("the suite runs against an external Neo4j")
    settings = Settings(home=tmp_path, bolt_port=_free_port(), http_port=_free_port(), heap="1g", pagecache="128m")
    starters = [LocalNeo4j(settings) for _ in range(3)]
    pids: list[int | None] = []
    errors = run_together([lambda local=local: pids.append(local.start().pid) for local in starters])
    try:
        assert not errors, errors
        assert len(set(pids)) == 1 and starters[0].state().running and starters[0].state().pid == pids[0]
        home = str(settings.neo4j_home).encode()
        jvms = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, home)]
        assert len(jvms) == 1, [p.name for p in jvms]
        with Database(settings) as db:
            assert db.read_raw("RETURN 1 AS one") == [{"one": 1}]
        # While a store is being replaced (the bulk import), nobody starts the server on it.
        late = threading.Thread(target=lambda: pids.append(LocalNeo4j(settings).start().pid))
        with starters[0].stopped():
            assert not starters[0].state().running
            late.start()
            late.join(timeout=3)
            assert late.is_alive() and not starters[0].state().running, "a start got through while the store was held"
        late.join(timeout=120)
        assert starters[0].state().running and pids[-1] == starters[0].state().pid != pids[0]
    finally:
        starters[0].stop()


def _cmdline_has(proc: Path, needle: bytes) -> bool:
    try:
        return needle in (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def test_status_reports_versions_through_the_cli(session_db: Database) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, **session_db.settings.connection_env()}
    proc = subprocess.run([sys.executable, "-m", "sybilgraph.cli", "db", "status"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["answers"] is True and status["gds"].startswith("2.13") and status["neo4j"].startswith("5.26.")
    settings = session_db.settings
    if settings.uses_local_launcher:  # where the password is, never the password
        assert status["password_file"] == str(settings.local_password_file)
        assert settings.local_password_file.read_text().strip() not in proc.stdout + proc.stderr


def test_the_local_neo4j_refuses_unauthenticated_connections(neo4j_settings: Settings, tmp_path: Path) -> None:
    """Authentication is on: no anonymous access, no default password, only the generated one."""
    import stat

    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    if not neo4j_settings.uses_local_launcher:
        pytest.skip("the suite runs against an external Neo4j")
    password_file = neo4j_settings.local_password_file
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 24
    for auth in (None, ("neo4j", "neo4j"), ("neo4j", password + "x")):
        with GraphDatabase.driver(neo4j_settings.bolt_uri, auth=auth) as driver:
            with pytest.raises(AuthError, match="Unauthorized"):
                driver.verify_connectivity()
    with GraphDatabase.driver(neo4j_settings.bolt_uri, auth=("neo4j", password)) as driver:
        driver.verify_connectivity()
    # What every command uses when NEO4J_PASSWORD is not set: the file in its home
    assert Settings(home=neo4j_settings.home, neo4j_password=None).neo4j_auth == ("neo4j", password)
    # A refused login says where its password came from, or that there was none
    for update, says in (({"home": tmp_path, "neo4j_password": None}, "no password: set NEO4J_PASSWORD"),
                         ({"neo4j_password": SecretStr(password + "x")}, "the password of NEO4J_PASSWORD")):
        with Database(neo4j_settings.model_copy(update=update)) as db, pytest.raises(DatabaseUnavailable) as refused:
            db.verify()
        assert "refused the credentials" in str(refused.value) and says in str(refused.value)
        assert password not in str(refused.value)


def test_status_says_so_when_nothing_answers(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, SYBILGRAPH_HOME=str(tmp_path), SYBILGRAPH_BOLT_PORT=str(_free_port()))
    env.pop("NEO4J_URI", None)
    proc = subprocess.run([sys.executable, "-m", "sybilgraph.cli", "db", "status"], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    status = json.loads(proc.stdout)
    assert status["answers"] is False and "does not answer" in status["reason"]
    assert "Traceback" not in proc.stderr
