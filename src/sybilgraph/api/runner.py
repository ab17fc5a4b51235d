"""Start an attribution run from the API without making the caller wait for it.

The API is given a plain callable ``run_attribution(settings, run_id) -> run id`` (the CLI wires
it to ``sybilgraph.attribution``; without it the mutation refuses with "attribution not
available"). The runner picks the run id itself and hands it over, so the run it reports is the
run it started, whatever else starts meanwhile (a scheduler, the CLI). The callable may block
for the whole run, so it runs in a daemon thread; the mutation answers as soon as the run's node
exists in the graph, or the callable has ended. A run that fails early (another holds the
attribution lease, attribution not wired) fails the mutation with its message; a later failure
is logged and shows on the run node (``status: failed``).

One run at a time, in this process and across processes, is the attribution lease's job
(db/lease.py): a run started while another holds it fails at once with ``CONFLICT``. A daemon
thread dies with the server: its lease expires, its run stays ``running`` and the next run marks
it failed, which is how ``sybilgraph attribute`` treats any run whose process died.
"""

from __future__ import annotations

import asyncio
import logging
import threading
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

RunAttribution = Callable[[Settings, str], str]


class AttributionUnavailable(SybilgraphError):
    """No attribution callable was given to the API."""


def attribution_not_available(settings: Settings, run_id: str) -> str:
    raise AttributionUnavailable("attribution not available")


def run_attribution_with_defaults(settings: Settings, run_id: str) -> str:
    """An adapter the CLI may pass to ``create_app``: one run of ``sybilgraph attribute`` with the
    parameters of the settings' ``[attribution]`` section and the given run id, on its own
    connection (imported lazily: attribution is heavy)."""
    from sybilgraph.attribution import run_attribution
    from sybilgraph.db.session import connect

    with connect(settings) as db:
        return run_attribution(db, settings.attribution.params(), run_id=run_id).run_id


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

    @staticmethod
    def new_run_id() -> str:
        from sybilgraph.attribution.pipeline import new_run_id

        return new_run_id()

    async def start(self, run_id: str) -> str:
        """Start run ``run_id`` in the background; returns once its node exists (or it ended)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()

        def settle(result: str | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(str(result))

        def work() -> None:
            try:
                finished = self.fn(self.settings, run_id)
            except BaseException as e:  # noqa: BLE001 - reported to the caller or the log
                log.warning("attribution run %s failed: %s: %s", run_id, type(e).__name__, e)
                _notify(loop, settle, None, e)
            else:
                log.info("attribution run %s finished", finished)
                _notify(loop, settle, finished, None)

        self._thread = threading.Thread(target=work, name=f"sybilgraph-attribution-{run_id}", daemon=True)
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
            rows = await self.db.run("api/read_runs", {"ids": [run_id]}, write=False, timeout_s=5.0)
            if rows:
                done.add_done_callback(_consume)  # a later failure is logged by `work`, not raised
                return run_id
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
