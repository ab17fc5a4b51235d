"""A scheduler in a child process, for the kill and SIGTERM tests (configured by environment).

``once``: one run_once(attribute=True); ``forever``: run_forever() with attribution at start;
``attribute``: the ``sybilgraph attribute`` command.
SLOW_COMMUNITIES_S stretches the community phase of attribution so the parent can kill or
signal the child mid-run: the real pipeline runs against the real database, only later.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any


def _slow_down_communities(seconds: float) -> None:
    from sybilgraph.attribution import pipeline

    real = pipeline.detect_communities

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return real(*args, **kwargs)

    pipeline.detect_communities = slow


def main(mode: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    logging.getLogger("neo4j").setLevel(logging.WARNING)
    _slow_down_communities(float(os.environ.get("SLOW_COMMUNITIES_S", "0")))

    from sybilgraph.jobs import Scheduler
    from sybilgraph.settings import Settings

    settings = Settings()
    if mode == "once":
        scheduler = Scheduler(settings)
        try:
            scheduler.run_once(attribute=True)
        finally:
            scheduler.close()
        return 0
    if mode == "attribute":
        from sybilgraph.cli import app

        app(["attribute"])  # exits with the command's code
    if mode == "forever":
        from sybilgraph.jobs.scheduler import main as scheduler_main

        return scheduler_main(settings)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
