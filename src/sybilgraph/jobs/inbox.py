"""The inbox: a directory where other systems drop bundles, one directory each.

Why a directory protocol: the producers (a warehouse export, an analyst's laptop, ``sybilgraph
generate``) need nothing but a copy. A copy takes time, so a bundle is taken only once it is
*ready*: it holds the marker file (``READY`` by default; write it last), or nothing in it has
changed for ``settle_s`` seconds (modification or status-change time, so copies that keep the
source's times are still seen arriving). Hidden entries (``.name``) and the done/failed directories
are never bundles; plain files in the inbox are ignored.

After ingest a bundle moves to ``done/`` with ``<name>.report.json`` beside it, or to
``failed/`` with ``<name>.reason.json``; a name already taken there gets a UTC suffix.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sybilgraph.jobs.state import utcnow

__all__ = ["Inbox", "ReadyBundle"]


@dataclass(frozen=True)
class ReadyBundle:
    name: str
    path: Path
    ready_at: float  # when it became ready (marker or last change), epoch seconds
    by_marker: bool


class Inbox:
    def __init__(self, root: Path, done: Path, failed: Path, ready_marker: str, settle_s: float) -> None:
        self.root = root
        self.done = done
        self.failed = failed
        self.ready_marker = ready_marker
        self.settle_s = settle_s

    def ensure(self) -> None:
        for path in (self.root, self.done, self.failed):
            path.mkdir(parents=True, exist_ok=True)

    # -- readiness -------------------------------------------------------------------------------
    def ready_bundles(self, now: float | None = None) -> list[ReadyBundle]:
        """Bundles ready to ingest, in the order they became ready (then by name)."""
        now = time.time() if now is None else now
        ready = [b for entry in self._candidates() if (b := self._readiness(entry, now)) is not None]
        return sorted(ready, key=lambda b: (b.ready_at, b.name))

    def _candidates(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        reserved = {self._resolved(self.done), self._resolved(self.failed)}
        return [
            entry
            for entry in sorted(self.root.iterdir())
            if entry.is_dir() and not entry.name.startswith(".") and self._resolved(entry) not in reserved
        ]

    def _readiness(self, bundle: Path, now: float) -> ReadyBundle | None:
        marker = bundle / self.ready_marker
        try:
            if marker.is_file():
                return ReadyBundle(bundle.name, bundle, marker.stat().st_mtime, by_marker=True)
            newest, files = _newest_change(bundle)
        except FileNotFoundError:  # moved away while we looked
            return None
        if files and now - newest >= self.settle_s:
            return ReadyBundle(bundle.name, bundle, newest, by_marker=False)
        return None

    # -- outcomes --------------------------------------------------------------------------------
    def move_done(self, bundle: ReadyBundle, report: dict[str, Any]) -> Path:
        return self._move(bundle, self.done, "report", report)

    def move_failed(self, bundle: ReadyBundle, reason: dict[str, Any]) -> Path:
        return self._move(bundle, self.failed, "reason", reason)

    def _move(self, bundle: ReadyBundle, target_dir: Path, kind: str, document: dict[str, Any]) -> Path:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = _free_name(target_dir, bundle.name)
        _move_dir(bundle.path, target)
        _write_json(target_dir / f"{target.name}.{kind}.json", document)
        return target

    @staticmethod
    def _resolved(path: Path) -> Path:
        return path.resolve()


def _newest_change(bundle: Path) -> tuple[float, int]:
    """Latest change under ``bundle`` and its file count. ctime counts too: a copy that keeps
    the source's modification times (``cp -p``, ``rsync -a``) still changes ctime, which no
    tool can set back."""
    st = bundle.stat()
    newest = max(st.st_mtime, st.st_ctime)
    files = 0
    for dirpath, dirnames, filenames in os.walk(bundle):
        for name in dirnames + filenames:
            st = os.stat(os.path.join(dirpath, name))
            newest = max(newest, st.st_mtime, st.st_ctime)
        files += len(filenames)
    return newest, files


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    if not target.exists():
        return target
    stamp = utcnow().strftime("%Y%m%dT%H%M%S.%fZ")
    return directory / f"{name}.{stamp}"


def _move_dir(source: Path, target: Path) -> None:
    try:
        os.rename(source, target)  # atomic on one filesystem
    except OSError:
        shutil.move(str(source), str(target))


def _write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str))
    os.replace(tmp, path)
