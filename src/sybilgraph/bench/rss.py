"""Resident memory of the processes a benchmark runs: this Python process, the Neo4j JVM, the API.

A background thread samples ``VmRSS`` from ``/proc/<pid>/status`` every ~100 ms into a time
series; a phase's peak is the largest sample inside its window, so phases can be cut after the
fact (sub-phases of ingest and attribution are windows rebuilt from their own timings). At each
top-level phase boundary the kernel's own high-water mark (``VmHWM``) is also reset where the
kernel allows it (``/proc/<pid>/clear_refs``, value 5), which catches spikes between samples.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = ["RssSampler", "Sample", "peak_between", "peak_sum_between", "read_rss", "reset_high_water_mark"]

PROC = Path("/proc")


@dataclass(frozen=True)
class Sample:
    t: float  # time.monotonic()
    rss: Mapping[str, int]  # bytes per process name; a process that has gone is absent


def read_status_kib(pid: int, key: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` in bytes; None when the process is gone."""
    try:
        with open(PROC / str(pid) / "status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def read_rss(pid: int) -> int | None:
    return read_status_kib(pid, "VmRSS")


def read_high_water_mark(pid: int) -> int | None:
    return read_status_kib(pid, "VmHWM")


def reset_high_water_mark(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS; False where the kernel or permissions refuse."""
    try:
        with open(PROC / str(pid) / "clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_between(samples: list[Sample], name: str, t0: float, t1: float) -> int | None:
    """Largest RSS of ``name`` sampled in [t0, t1]; None when it was never sampled there."""
    values = [s.rss[name] for s in samples if t0 <= s.t <= t1 and name in s.rss]
    return max(values) if values else None


def peak_sum_between(samples: list[Sample], names: tuple[str, ...], t0: float, t1: float) -> int | None:
    """Largest simultaneous sum of the RSS of ``names`` in [t0, t1] (all must be sampled)."""
    values = [sum(s.rss[n] for n in names) for s in samples if t0 <= s.t <= t1 and all(n in s.rss for n in names)]
    return max(values) if values else None


@dataclass
class RssSampler:
    """Samples the RSS of named processes on a daemon thread until ``stop()``."""

    pids: dict[str, int] = field(default_factory=lambda: {"python": os.getpid()})
    interval_s: float = 0.1
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def watch(self, name: str, pid: int | None) -> None:
        """Add (or with None, remove) a process to sample, e.g. the API server for its phase."""
        with self._lock:
            if pid is None:
                self.pids.pop(name, None)
            else:
                self.pids[name] = pid

    def sample_now(self) -> Sample:
        with self._lock:
            pids = dict(self.pids)
        rss = {name: v for name, pid in pids.items() if (v := read_rss(pid)) is not None}
        s = Sample(time.monotonic(), rss)
        with self._lock:
            self.samples.append(s)
        return s

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def reset_marks(self) -> dict[str, bool]:
        """Phase boundary: reset every watched process's high-water mark; which ones took it."""
        with self._lock:
            pids = dict(self.pids)
        self.sample_now()
        return {name: reset_high_water_mark(pid) for name, pid in pids.items()}

    def high_water_marks(self) -> dict[str, int | None]:
        with self._lock:
            pids = dict(self.pids)
        self.sample_now()
        return {name: read_high_water_mark(pid) for name, pid in pids.items()}

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval_s)


def windows_from_timings(start: float, timings: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Time windows of sub-phases that ran one after the other, from their durations alone.

    ``timings`` is in run order; ``"a.b"`` is a step inside ``"a"`` and is placed from the start
    of ``a``'s window. The small gaps between phases are ignored, so windows are approximate.
    """
    windows: dict[str, tuple[float, float]] = {}
    cursor: dict[str, float] = {"": start}
    for name, seconds in timings.items():
        parent = name.rpartition(".")[0]
        t0 = cursor.get(parent, windows.get(parent, (start, start))[0])
        windows[name] = (t0, t0 + seconds)
        cursor[parent] = t0 + seconds
        cursor[name] = t0
    return windows
