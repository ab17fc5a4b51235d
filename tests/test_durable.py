"""Durable publication: files and directories are fsynced before and after the rename."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sybilgraph import durable


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "fsync", fsync)
    return synced


def test_replace_syncs_every_staged_file_and_both_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staged = tmp_path / "staging" / "b1"
    (staged / "interactions").mkdir(parents=True)
    (staged / "interactions" / "part-00000.parquet").write_bytes(b"PAR1")
    (staged / "COMPLETE").write_text("1")
    (tmp_path / "bundles").mkdir()
    synced = _record_fsyncs(monkeypatch)
    durable.replace(staged, tmp_path / "bundles" / "b1")
    assert (tmp_path / "bundles" / "b1" / "interactions" / "part-00000.parquet").read_bytes() == b"PAR1"
    before_rename = {str(staged / "interactions" / "part-00000.parquet"), str(staged / "COMPLETE"),
                     str(staged / "interactions"), str(staged)}
    assert before_rename <= set(synced[: len(before_rename)])  # the data first
    assert synced[-2:] == [str(tmp_path / "bundles"), str(tmp_path / "staging")]  # then the renamed entries


def test_write_text_is_whole_or_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old")

    def crash(fd: int) -> None:
        raise OSError("power lost")

    monkeypatch.setattr(durable.os, "fsync", crash)
    with pytest.raises(OSError):
        durable.write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    monkeypatch.undo()
    synced = _record_fsyncs(monkeypatch)
    durable.write_text(target, "new")
    assert target.read_text() == "new" and synced[-1] == str(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left behind


def test_the_columnar_store_publishes_staged_parts_durably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sybilgraph.ingest.columnar import ColumnarStore, Delivery

    store = ColumnarStore(tmp_path / "columnar")
    staging = store.staging("i1")
    (staging / "accounts").mkdir()
    (staging / "accounts" / "part-00000.parquet").write_bytes(b"PAR1")
    synced = _record_fsyncs(monkeypatch)
    store.commit(Delivery(bundle_id="b1", seq=1, ingest_id="i1", digest="d1", bundle="b"))
    part = str(store.staging_dir / "i1" / "accounts" / "part-00000.parquet")
    assert part in synced and str(store.bundles_dir) in synced and str(store.root) in synced  # parts, rename, manifest
