"""The scheduler's liveness, for container health checks: ``sybilgraph scheduler --check``.

Why a file: the health check runs as a separate process beside the scheduler (Docker's
``healthcheck``), and the scheduler has no port to ask. A daemon thread of the running scheduler
rewrites ``<home>/run/scheduler-<host>.json`` every ``HEALTH_INTERVAL_S`` with its pid and what
it is doing; the check passes while that file is fresh and its process is alive. A long step
(an attribution at scale 1.0 takes minutes) keeps the file fresh and says so. One file per host,
so schedulers sharing one home (one volume) each have their own.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sybilgraph.db.launcher import pid_alive
from sybilgraph.settings import Settings

__all__ = ["HEALTH_INTERVAL_S", "STALE_AFTER_S", "HealthBeacon", "check_health", "health_file"]

HEALTH_INTERVAL_S = 10.0
STALE_AFTER_S = 45.0  # several missed reports, not one slow one


def health_file(settings: Settings) -> Path:
    return settings.home / "run" / f"scheduler-{socket.gethostname()}.json"


class HealthBeacon:
    """Writes ``describe()`` with the pid and the time every ``interval_s`` until stopped."""

    def __init__(self, path: Path, describe: Callable[[], dict[str, Any]], interval_s: float = HEALTH_INTERVAL_S) -> None:
        self.path = path
        self.describe = describe
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_written: str | None = None  # this beacon's last report, as written

    def start(self) -> None:
        if self._thread is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write()
            self._thread = threading.Thread(target=self._loop, name="sybilgraph-health", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        # Stopped cleanly: the file goes, unless another scheduler of this host has written it
        # since (it is alive, and the check should say so).
        try:
            if self.path.read_text() == self._last_written:
                self.path.unlink(missing_ok=True)
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._write()
            except OSError:  # a full disk: the check will report the stale file
                pass

    def _write(self) -> None:
        # A temporary name of this writer's own: schedulers sharing a home on one host share the
        # file, and with one temporary name a writer could rename another's away (measured: a
        # scheduler failed to start with FileNotFoundError when two started together).
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        report = json.dumps({"pid": os.getpid(), "at": time.time(), **self.describe()}, default=str)
        try:
            tmp.write_text(report)
            os.replace(tmp, self.path)
            self._last_written = report
        finally:
            tmp.unlink(missing_ok=True)


def check_health(settings: Settings, stale_after_s: float = STALE_AFTER_S) -> tuple[bool, str]:
    """(healthy, a sentence saying why) for this host's scheduler."""
    path = health_file(settings)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        return False, f"no scheduler runs on this host ({path} does not exist)"
    except (OSError, ValueError) as e:
        return False, f"cannot read {path}: {e}"
    age = time.time() - float(report.get("at", 0))
    pid = int(report.get("pid", 0))
    if pid <= 0 or not pid_alive(pid):
        return False, f"the scheduler (pid {pid}) is gone; its last report is {age:.0f}s old"
    if age > stale_after_s:
        return False, f"the scheduler (pid {pid}) has not reported for {age:.0f}s"
    return True, f"scheduler alive (pid {pid}, {report.get('state', '?')}, reported {age:.0f}s ago)"
