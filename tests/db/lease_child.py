"""A lease holder in a child process, for tests/db/test_lease.py (configured by environment).

It takes the ``attribution`` lease as ``frozen``, then promotes a run with a fenced write and
freezes itself (SIGSTOP) inside that write's transaction, right after the check that took the
lease node's write lock: what a SIGSTOP or a suspended VM does at the worst moment. Thawed
(SIGCONT), it tries to commit and prints what happened.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def main() -> int:
    from sybilgraph.db import session
    from sybilgraph.db.lease import hold
    from sybilgraph.db.session import Database
    from sybilgraph.errors import SybilgraphError
    from sybilgraph.settings import Settings

    real_check = session._check_fence

    def check_then_freeze(*args: Any) -> None:
        real_check(*args)
        print("frozen inside the fenced write", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)

    session._check_fence = check_then_freeze  # type: ignore[assignment]
    settings = Settings()
    with Database(settings) as db:
        try:
            with hold(db, "attribution", ttl_s=settings.lease_ttl_s, heartbeat_s=settings.lease_heartbeat_s,
                      holder="frozen") as lease:
                db.write("attribution/create_run", run_id="run-frozen", seed=1, params_json="{}")
                db.write("attribution/promote_run", fence=lease.fence, run_id="run-frozen", timings_json="{}",
                         counts_json="{}")
        except SybilgraphError as e:
            print(f"refused: {e}", flush=True)
            return 1
    print("written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
