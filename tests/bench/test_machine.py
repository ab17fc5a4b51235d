"""Machine description and bytes on disk."""

from __future__ import annotations

from pathlib import Path

from sybilgraph.bench.machine import disk_usage, git_commit, machine_info


def test_disk_usage_counts_allocated_blocks_under_a_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data").write_bytes(b"x" * 100_000)
    used = disk_usage(tmp_path)
    assert used is not None and used >= 100_000
    assert disk_usage(tmp_path / "missing") is None


def test_machine_info_names_cores_memory_and_versions() -> None:
    info = machine_info({"neo4j": "5.26.12"})
    assert info["cores"] >= 1 and info["neo4j"] == "5.26.12"
    assert info["packages"]["pyarrow"] and info["packages"]["duckdb"]


def test_git_commit_answers_even_outside_a_checkout() -> None:
    code = git_commit()
    assert set(code) == {"commit", "dirty"}
