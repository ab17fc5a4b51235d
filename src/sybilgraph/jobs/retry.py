"""Exponential backoff, and which failures are worth retrying.

Why: a scheduler runs unattended. A database restart or a transient deadlock must not turn a
good bundle into a failed one, and a bundle that can never load must not be retried forever.
So failures are sorted into *infrastructure* (the database or network: retried, and the bundle
stays in the inbox however long it lasts), *permanent* (the bundle itself is unusable: refused
at once) and anything else (retried a few times, then refused with its reason).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

from sybilgraph.errors import BundleError, DatabaseUnavailable

__all__ = ["Backoff", "Stopped", "is_infrastructure", "is_permanent", "retry"]

T = TypeVar("T")

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
    ConnectionError,
    TimeoutError,
)
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (BundleError,)


class Stopped(Exception):
    """The scheduler was asked to stop while a step waited to retry."""


def is_infrastructure(error: BaseException) -> bool:
    return isinstance(error, INFRASTRUCTURE_ERRORS) or isinstance(error.__cause__, INFRASTRUCTURE_ERRORS)


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, PERMANENT_ERRORS)


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt ``n + 1`` after ``n`` failures: base * 2^(n-1), capped, with jitter."""

    base_s: float
    max_s: float
    jitter: float = 0.1

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        raw = min(self.max_s, self.base_s * 2 ** (failures - 1))
        return raw * (1.0 + random.uniform(-self.jitter, self.jitter))


def retry(
    step: Callable[[], T],
    attempts: int,
    backoff: Backoff,
    stop: threading.Event,
    on_failure: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run ``step`` until it succeeds, at most ``attempts`` times; permanent errors are not retried.

    Waits between attempts are cut short by ``stop`` (raising ``Stopped``).
    """
    failures = 0
    while True:
        try:
            return step()
        except Exception as e:
            failures += 1
            if is_permanent(e) or failures >= attempts:
                raise
            wait = backoff.delay(failures)
            if on_failure is not None:
                on_failure(failures, e, wait)
            if stop.wait(wait):
                raise Stopped(f"stopped while waiting to retry after: {type(e).__name__}: {e}") from e
