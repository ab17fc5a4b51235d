"""Start an attribution run from the API without making the caller wait for it.

The API is given a plain callable ``run_attribution(settings) -> run id`` (the lead wires it to
``sybilgraph.attribution``; until then the default refuses with "attribution not available").
The callable may block for the whole run, so it runs in a daemon thread; the mutation answers
as soon as the run id is known: either the callable returned it, or a new ``AttributionRun``
node appeared in the graph (``run_attribution`` creates it right after taking its lock). A
run that fails early (the lock is held, attribution not wired) fails the mutation with its
message; a later failure is logged and shows on the run node (``status: failed``).

One run at a time, in this process and across processes, is the attribution lease's job
(db/lease.py): a run started while another holds it fails at once with ``CONFLICT``. A daemon
thread dies with the server: its lease expires, its run stays ``running`` and the next run marks
it failed, which is how ``sybilgraph attribute`` treats any run whose process died.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from sybilgraph.api.db import AsyncDatabase
from sybilgraph.api.errors import ApiError, Conflict, QueryTimeout
from sybilgraph.db.lease import LeaseBusy
from sybilgraph.errors import SybilgraphError
from sybilgraph.settings import Settings

__all__ = [
    "AttributionRunner",
    "AttributionUnavailable",
    "RunAttribution",
    "attribution_not_available",
    "run_attribution_with_defaults",
]

log = logging.getLogger("sybilgraph.api.runner")

RunAttribution = Callable[[Settings], str]


class AttributionUnavailable(SybilgraphError):
    """No attribution callable was given to the API."""


def attribution_not_available(settings: Settings) -> str:
    raise AttributionUnavailable("attribution not available")


def run_attribution_with_defaults(settings: Settings) -> str:
    """An adapter the CLI may pass to ``create_app``: one run of ``sybilgraph attribute`` with the
    parameters of the settings' ``[attribution]`` section, on its own connection (imported
    lazily: attribution is heavy)."""
    from sybilgraph.attribution import run_attribution
    from sybilgraph.db.session import connect

    with connect(settings) as db:
        return run_attribution(db, settings.attribution.params()).run_id


class AttributionNotAvailable(ApiError):
    code = "NOT_AVAILABLE"


class AttributionFailed(ApiError):
    code = "ATTRIBUTION_FAILED"


class AttributionRunner:
    def __init__(self, fn: RunAttribution, settings: Settings, db: AsyncDatabase, wait_s: float = 30.0) -> None:
        self.fn = fn
        self.settings = settings
        self.db = db
        self.wait_s = wait_s
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def start(self) -> str:
        """Start a run in the background; returns its id once known."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        since = int(time.time() * 1000) - 60_000  # tolerate clock skew between us and Neo4j
        before = {r["run_id"] for r in await self.db.run("api/read_run_ids_since", {"since": since}, write=False, timeout_s=5.0)}

        def settle(result: str | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(str(result))

        def work() -> None:
            try:
                run_id = self.fn(self.settings)
            except BaseException as e:  # noqa: BLE001 - reported to the caller or the log
                log.warning("attribution run failed: %s: %s", type(e).__name__, e)
                _notify(loop, settle, None, e)
            else:
                log.info("attribution run %s finished", run_id)
                _notify(loop, settle, run_id, None)

        self._thread = threading.Thread(target=work, name="sybilgraph-attribution", daemon=True)
        self._thread.start()
        deadline = loop.time() + self.wait_s
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(done), timeout=0.1)
            except TimeoutError:
                pass
            except SybilgraphError as e:
                if isinstance(e, AttributionUnavailable):
                    raise AttributionNotAvailable(str(e)) from e
                if isinstance(e, LeaseBusy):
                    raise Conflict(str(e)) from e
                raise AttributionFailed(str(e)) from e
            rows = await self.db.run("api/read_run_ids_since", {"since": since}, write=False, timeout_s=5.0)
            fresh = [r["run_id"] for r in rows if r["run_id"] not in before]
            if fresh:
                done.add_done_callback(_consume)  # a later failure is logged by `work`, not raised
                return str(fresh[0])
            if loop.time() > deadline:
                done.add_done_callback(_consume)
                raise QueryTimeout(self.wait_s)

    async def close(self) -> None:
        """Nothing to join: a run in flight is a daemon thread and ends with the process."""
        if self.busy:
            log.warning("shutting down while an attribution run is in progress; it will be marked failed by the next run")


def _notify(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: object) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # the server's loop is closed: nobody is waiting any more
        pass


def _consume(fut: asyncio.Future[str]) -> None:
    if not fut.cancelled():
        fut.exception()
