"""Progress for long work: a rich bar on a terminal, structured log lines otherwise."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Reporter", "Phase", "reporter_for", "NullReporter"]

log = logging.getLogger("sybilgraph.progress")


class Phase(Protocol):
    def advance(self, n: float = 1) -> None: ...

    def total(self, total: float | None) -> None: ...


class Reporter(Protocol):
    def phase(self, name: str, total: float | None = None) -> "contextmanager[Phase]": ...  # type: ignore[valid-type]


class _LogPhase:
    def __init__(self, name: str, total: float | None) -> None:
        self.name, self._total, self.done = name, total, 0.0
        self._last = 0.0

    def advance(self, n: float = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= 5.0:  # one line every few seconds, not per batch
            self._last = now
            log.info(json.dumps({"event": "progress", "phase": self.name, "done": self.done, "total": self._total}))

    def total(self, total: float | None) -> None:
        self._total = total


class LogReporter:
    @contextmanager
    def phase(self, name: str, total: float | None = None) -> Iterator[_LogPhase]:
        p = _LogPhase(name, total)
        t0 = time.monotonic()
        log.info(json.dumps({"event": "phase_start", "phase": name, "total": total}))
        yield p
        log.info(json.dumps({"event": "phase_end", "phase": name, "done": p.done, "seconds": round(time.monotonic() - t0, 3)}))


class _RichPhase:
    def __init__(self, progress: object, task: object) -> None:
        self._p, self._t = progress, task

    def advance(self, n: float = 1) -> None:
        self._p.advance(self._t, n)  # type: ignore[attr-defined]

    def total(self, total: float | None) -> None:
        self._p.update(self._t, total=total)  # type: ignore[attr-defined]


class RichReporter:
    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
        )

    @contextmanager
    def phase(self, name: str, total: float | None = None) -> Iterator[_RichPhase]:
        with self._progress:
            task = self._progress.add_task(name, total=total)
            yield _RichPhase(self._progress, task)
            self._progress.update(task, completed=self._progress.tasks[-1].completed, total=self._progress.tasks[-1].completed or 1)


class NullReporter:
    @contextmanager
    def phase(self, name: str, total: float | None = None) -> Iterator[_LogPhase]:
        yield _LogPhase(name, total)


def reporter_for(stream: object = None) -> LogReporter | RichReporter:
    stream = stream or sys.stderr
    return RichReporter() if getattr(stream, "isatty", lambda: False)() else LogReporter()
