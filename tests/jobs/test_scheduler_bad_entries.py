"""No bad inbox entry stops the scheduler: each is moved to failed/ with its reason, reported in
the inbox job state, and the good bundle beside them is still ingested in the same pass."""

from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import pytest

from sybilgraph.db.session import Database
from sybilgraph.ingest import readers
from sybilgraph.jobs import Scheduler, inbox as inbox_module
from tests.bundles import write_bundle
from tests.jobs.jobs_support import account, drop, job_state, with_jobs

pytestmark = pytest.mark.integration

MIB = 1 << 20
INTERACTIONS_HEADER = b"account_id,ts,ip,model\n"


def _bundle(inbox: Path, name: str, prefix: str) -> Path:
    """A marked, valid bundle of two accounts, written beside the inbox and moved in."""
    return drop(inbox, name, {"accounts": [account(f"{prefix}-1"), account(f"{prefix}-2")]})


def _unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EACCES on ``path``: chmod 000, or, as root (who reads everything), the same error from scandir."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    real = os.scandir

    def scandir(p: object = ".") -> object:
        if not isinstance(p, int) and Path(os.fsdecode(p)).resolve() == path.resolve():  # type: ignore[arg-type]
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(p)  # type: ignore[arg-type]

    monkeypatch.setattr(inbox_module.os, "scandir", scandir)


def test_every_bad_entry_is_refused_with_its_reason_and_the_good_bundle_still_loads(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # Small bounds, so the test writes megabytes, not gigabytes (the rules are the same).
    monkeypatch.setattr(readers._JsonlSource, "_MAX_LINE", 2 * MIB)
    monkeypatch.setattr(readers, "_EXPANSION_FLOOR", 4 * MIB)

    os.symlink("loop", inbox / "loop")  # a symlink loop: ELOOP
    inner = _bundle(inbox, "inner-loop", "inner")
    os.symlink("self", inner / "self")  # a loop inside a bundle
    locked = _bundle(inbox, "locked", "locked")
    _unreadable(locked, monkeypatch)  # EACCES
    os.symlink(tmp_path / "nowhere", inbox / "dangling")  # a broken link
    fifo = _bundle(inbox, "fifo", "fifo")
    os.mkfifo(fifo / "interactions.csv")  # a reader would block on it forever

    endless = _bundle(inbox, "endless-line", "endless")
    with open(endless / "interactions.jsonl", "wb") as f:  # one valid line, then a line without end
        f.write(b'{"account_id": "endless-1", "ts": "2026-04-01T10:00:00Z", "ip": "10.0.0.1", "model": "m"}\n')
        f.write(b'{"account_id": "' + b"x" * (3 * MIB))
    bomb = _bundle(inbox, "gz-bomb", "bomb")
    with gzip.open(bomb / "interactions.csv.gz", "wb", compresslevel=9) as f:  # ~1000x expansion
        f.write(INTERACTIONS_HEADER)
        for _ in range(48):
            f.write(b"bomb-1,2026-04-01T10:00:00Z,10.0.0.1,m\n" * (MIB // 32))
    assert (bomb / "interactions.csv.gz").stat().st_size * readers._MAX_EXPANSION < 48 * MIB
    good = _bundle(inbox, "zz-good", "good")

    scheduler = Scheduler(with_jobs(db.settings, inbox, attribute_after_ingest=False), db=db)
    try:
        report = scheduler.run_once()
        again = scheduler.run_once()  # nothing left to fail, nothing fails twice
    finally:
        scheduler.close()

    outcomes = {o.name: o for o in report.bundles}
    assert outcomes["zz-good"].status == "done" and (inbox / "done" / "zz-good").is_dir() and not good.exists()
    expected = {
        "loop": "a symbolic link loop (ELOOP)",
        "inner-loop": "is a symbolic link; a bundle holds regular files only",
        "locked": "permission denied (EACCES)",
        "dangling": "a broken symbolic link",
        "fifo": "is a named pipe (FIFO); a bundle holds regular files only",
        "endless-line": "line 2 is longer than 2 MiB",
        "gz-bomb": "decompression bomb",
    }
    for name, reason in expected.items():
        outcome = outcomes[name]
        assert outcome.status == "failed" and reason in (outcome.reason or ""), (name, outcome)
        written = json.loads((inbox / "failed" / f"{name}.reason.json").read_text())
        assert reason in written["reason"], (name, written)
        assert os.path.lexists(inbox / "failed" / name) and not os.path.lexists(inbox / name)
    state = job_state(db, "inbox")
    assert state["last_status"] == "failed"
    for name in expected:
        assert name in state["last_error"]
    assert again.bundles == []
    accounts = {r["id"] for r in db.read_raw("MATCH (a:Account) RETURN a.account_id AS id")}
    # Entries refused before ingest load nothing; a bundle with one unreadable table is "partial":
    # its readable tables loaded, as `sybilgraph ingest` does (docs/jobs.md), and it is in failed/.
    assert accounts == {f"{p}-{i}" for p in ("good", "bomb", "endless") for i in (1, 2)}


def test_an_entry_that_cannot_be_moved_is_reported_once_and_skipped(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    os.symlink("loop", inbox / "loop")
    scheduler = Scheduler(with_jobs(db.settings, inbox, attribute_after_ingest=False), db=db)
    real_rename = os.rename

    def rename(src: object, dst: object) -> None:
        if Path(os.fsdecode(src)).name == "loop":  # type: ignore[arg-type]
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(src))  # type: ignore[arg-type]
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(inbox_module.os, "rename", rename)
    try:
        first = scheduler.run_once()
        _bundle(inbox, "later", "later")
        second = scheduler.run_once()
    finally:
        scheduler.close()
    assert [(o.name, o.status) for o in first.bundles] == [("loop", "failed")]
    assert "left in place and skipped" in (first.bundles[0].reason or "")
    assert [(o.name, o.status) for o in second.bundles] == [("later", "done")]
