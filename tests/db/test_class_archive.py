"""The launcher's class-data-sharing archive, without starting a JVM: which options a start gets,
and when a stopped server's dump becomes the archive (the archive in use: test_launcher.py)."""

from __future__ import annotations

from pathlib import Path

from sybilgraph.db.launcher import LocalNeo4j
from sybilgraph.settings import Settings


def _local(tmp_path: Path) -> LocalNeo4j:
    project = tmp_path / "launcher"
    (project / "target").mkdir(parents=True)
    (project / "target" / "build.stamp").write_text("1")
    (project / "target" / "sybilgraph-neo4j-launcher-0.1.0.jar").write_bytes(b"jar")
    local = LocalNeo4j(Settings(home=tmp_path / "home", launcher_dir=project))
    local.home.mkdir(parents=True)
    return local


def test_a_start_without_an_archive_dumps_one_and_later_starts_map_it(tmp_path: Path) -> None:
    local = _local(tmp_path)
    assert local._class_sharing()[0] == f"-XX:ArchiveClassesAtExit={local.class_dump}"
    local.class_dump.write_bytes(b"classes")  # what the JVM writes as it exits
    local._keep_class_dump()
    assert local.class_archive.read_bytes() == b"classes" and not local.class_dump.exists()
    assert local._class_sharing()[0] == f"-XX:SharedArchiveFile={local.class_archive}"
    assert not list(local.class_archive.parent.glob("*.tmp"))


def test_an_empty_dump_is_dropped_and_a_rebuild_names_another_archive(tmp_path: Path) -> None:
    local = _local(tmp_path)
    local.class_dump.write_bytes(b"")  # a dump that failed
    local._keep_class_dump()
    assert not local.class_archive.exists() and not local.class_dump.exists()
    before = local.class_archive
    (local.project / "target" / "build.stamp").write_text("2")
    assert local.class_archive != before
