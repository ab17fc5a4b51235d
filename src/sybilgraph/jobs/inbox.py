"""The inbox: a directory where other systems drop bundles, one directory each.

Why a directory protocol: the producers (a warehouse export, an analyst's laptop, ``sybilgraph
generate``) need nothing but a copy. A copy takes time, so a bundle is taken only once it is
*ready*: it holds the marker file (``READY`` by default; write it last), or two looks at least
``settle_s`` apart saw the same files with the same sizes and modification times, and nothing in
it changed for ``settle_s`` (modification or status-change time, so copies that keep the
source's times are still seen arriving). Hidden entries (``.name``) and the done/failed
directories are never bundles; plain files in the inbox are ignored.

No entry can stop the scanning of the others: an entry that cannot be read (a symlink loop, a
directory without permission, a broken link) or holds what a bundle must not (a symlink, a FIFO,
a device) is reported as a ``BadEntry`` with its reason, and the scheduler moves it to
``failed/``. After ingest a bundle moves to ``done/`` with ``<name>.report.json`` beside it, or
to ``failed/`` with ``<name>.reason.json``; a name already taken there gets a UTC suffix. The
reports are written durably (``durable.py``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sybilgraph import durable
from sybilgraph.jobs.state import utcnow

__all__ = ["BadEntry", "Inbox", "InboxScan", "ReadyBundle"]


@dataclass(frozen=True)
class ReadyBundle:
    name: str
    path: Path
    ready_at: float  # when it became ready (marker or last change), epoch seconds
    by_marker: bool


@dataclass(frozen=True)
class BadEntry:
    """An inbox entry that is not a usable bundle, and why (for ``failed/<name>.reason.json``)."""

    name: str
    path: Path
    reason: str


@dataclass
class InboxScan:
    ready: list[ReadyBundle] = field(default_factory=list)
    bad: list[BadEntry] = field(default_factory=list)


@dataclass(frozen=True)
class _Look:
    signature: tuple[tuple[str, int, int], ...]  # (path, size, mtime_ns) of every file
    newest: float  # latest mtime or ctime, epoch seconds
    at: float  # when this look was taken


class _NotABundle(Exception):
    """What makes an entry bad: the message is its reason."""


class Inbox:
    def __init__(self, root: Path, done: Path, failed: Path, ready_marker: str, settle_s: float) -> None:
        self.root = root
        self.done = done
        self.failed = failed
        self.ready_marker = ready_marker
        self.settle_s = settle_s
        self._looks: dict[str, _Look] = {}
        # Bad entries that could not be moved to failed/ either: reported once, then left alone.
        self.stuck: dict[str, str] = {}

    def ensure(self) -> None:
        for path in (self.root, self.done, self.failed):
            path.mkdir(parents=True, exist_ok=True)

    # -- readiness -------------------------------------------------------------------------------
    def scan(self, now: float | None = None) -> InboxScan:
        """Ready bundles (in the order they became ready, then by name) and bad entries.

        Raises OSError only when the inbox directory itself cannot be listed."""
        now = time.time() if now is None else now
        scan = InboxScan()
        seen: set[str] = set()
        for entry in self._candidates():
            seen.add(entry.name)
            if entry.name in self.stuck:
                continue
            try:
                ready = self._readiness(entry, now)
            except _NotABundle as e:
                scan.bad.append(BadEntry(entry.name, entry, str(e)))
                continue
            except OSError as e:
                scan.bad.append(BadEntry(entry.name, entry, _os_reason(e, entry)))
                continue
            if ready is not None:
                scan.ready.append(ready)
        self._looks = {k: v for k, v in self._looks.items() if k in seen}
        scan.ready.sort(key=lambda b: (b.ready_at, b.name))
        return scan

    def ready_bundles(self, now: float | None = None) -> list[ReadyBundle]:
        return self.scan(now).ready

    def _candidates(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        reserved = {self._resolved(self.done), self._resolved(self.failed)}
        out = []
        with os.scandir(self.root) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                if entry.is_file(follow_symlinks=False):
                    continue  # plain files are not bundles (documented)
                if not entry.is_symlink() and entry.is_dir(follow_symlinks=False) and self._resolved(path) in reserved:
                    continue
                if entry.is_symlink() and _resolves_to(path, reserved):
                    continue
                out.append(path)
        return out

    def _readiness(self, bundle: Path, now: float) -> ReadyBundle | None:
        if bundle.is_symlink():
            try:
                bundle.stat()  # ELOOP, ENOENT (broken link), EACCES
            except OSError as e:
                raise _NotABundle(_os_reason(e, bundle)) from None
        st = os.stat(bundle)
        if not stat.S_ISDIR(st.st_mode):
            if stat.S_ISREG(st.st_mode):
                raise _NotABundle(f"{bundle} is a link to a file, not a bundle directory")
            raise _NotABundle(f"{bundle} is a {_kind(st.st_mode)}, not a bundle directory")
        files, newest = _inspect(bundle)
        if any(path == self.ready_marker for path, _, _ in files):
            marker = os.stat(bundle / self.ready_marker)
            return ReadyBundle(bundle.name, bundle, marker.st_mtime, by_marker=True)
        look = _Look(tuple(files), max(newest, st.st_mtime, st.st_ctime), now)
        previous = self._looks.get(bundle.name)
        if previous is None or previous.signature != look.signature or previous.newest != look.newest:
            self._looks[bundle.name] = look  # first look, or it changed: look again later
            return None
        if files and now - previous.at >= self.settle_s and now - look.newest >= self.settle_s:
            return ReadyBundle(bundle.name, bundle, look.newest, by_marker=False)
        return None

    # -- outcomes --------------------------------------------------------------------------------
    def move_done(self, bundle: ReadyBundle, report: dict[str, Any]) -> Path:
        return self._move(bundle.name, bundle.path, self.done, "report", report)

    def move_failed(self, bundle: ReadyBundle | BadEntry, reason: dict[str, Any]) -> Path:
        return self._move(bundle.name, bundle.path, self.failed, "reason", reason)

    def _move(self, name: str, source: Path, target_dir: Path, kind: str, document: dict[str, Any]) -> Path:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = _free_name(target_dir, name)
        _move_entry(source, target)
        durable.write_text(target_dir / f"{target.name}.{kind}.json", json.dumps(document, indent=2, default=str))
        self._looks.pop(name, None)
        return target

    @staticmethod
    def _resolved(path: Path) -> Path:
        return path.resolve()


def _inspect(bundle: Path) -> tuple[list[tuple[str, int, int]], float]:
    """(relative path, size, mtime_ns) of every file under ``bundle`` and the latest change.

    A bundle holds directories and regular files only: a symlink could point anywhere (a loop,
    a device, a file outside the bundle) and a FIFO would block the reader forever. ctime counts
    as a change: a copy that keeps the source's modification times (``cp -p``, ``rsync -a``)
    still changes ctime, which no tool can set back."""
    files: list[tuple[str, int, int]] = []
    newest = 0.0
    stack = [bundle]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as it:  # EACCES, ELOOP, ENOTDIR: the caller reports them
            for entry in it:
                path = Path(entry.path)
                st = entry.stat(follow_symlinks=False)
                newest = max(newest, st.st_mtime, st.st_ctime)
                if stat.S_ISLNK(st.st_mode):
                    raise _NotABundle(f"{path} is a symbolic link; a bundle holds regular files only")
                if stat.S_ISDIR(st.st_mode):
                    stack.append(path)
                elif stat.S_ISREG(st.st_mode):
                    files.append((path.relative_to(bundle).as_posix(), st.st_size, st.st_mtime_ns))
                else:
                    raise _NotABundle(f"{path} is a {_kind(st.st_mode)}; a bundle holds regular files only")
    return sorted(files), newest


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISLNK, "symbolic link")):
        if test(mode):
            return name
    return "special file"


def _os_reason(e: OSError, entry: Path) -> str:
    code = errno.errorcode.get(e.errno or 0, "error")
    where = e.filename or entry
    meaning = {
        errno.ELOOP: "a symbolic link loop",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOENT: "a broken symbolic link or a file that vanished",
    }.get(e.errno or 0, e.strerror or str(e))
    return f"{where}: {meaning} ({code}); the entry cannot be read as a bundle"


def _resolves_to(link: Path, targets: set[Path]) -> bool:
    try:
        return link.resolve(strict=True) in targets
    except (OSError, RuntimeError):  # a loop or a broken link: judged as an entry
        return False


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    if not os.path.lexists(target):
        return target
    stamp = utcnow().strftime("%Y%m%dT%H%M%S.%fZ")
    return directory / f"{name}.{stamp}"


def _move_entry(source: Path, target: Path) -> None:
    try:
        os.rename(source, target)  # atomic on one filesystem; a symlink moves as the link
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        shutil.move(str(source), str(target))
    durable.fsync_dir(target.parent)
    durable.fsync_dir(source.parent)
