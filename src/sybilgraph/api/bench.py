"""Load benchmark of the API (not a test): latency percentiles and throughput under concurrency.

Two workloads an investigation console sends most: ``account(id)`` with its current operator
and evidence, and a page of ``operators``. For each concurrency level, that many async httpx
clients send requests back to back; the script prints p50/p99 latency and requests per second.

    # against a running server
    python -m sybilgraph.api.bench --url http://127.0.0.1:8000 --key "$KEY"
    # or start one (uvicorn subprocess, random admin key, throwaway audit log) on the configured Neo4j
    python -m sybilgraph.api.bench --serve [--workers 2]

Account ids are taken from the members of the current operators (``--accounts`` overrides).
Requests are bounded (``--requests`` per level) and go to loopback unless ``--url`` says
otherwise. The server under test should have the graph loaded and attributed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx

__all__ = ["ACCOUNT_QUERY", "OPERATORS_QUERY", "bench_app", "main"]

ACCOUNT_QUERY = """
query BenchAccount($id: ID!) {
  account(id: $id) {
    id status createdAt
    activity { nInteractions totalTokens }
    identifiers { kind value nAccounts }
    attribution {
      confidence provisional
      operator { id label size campaignScore flagged }
      evidence { kind value membersSharing weight }
    }
  }
}
"""

OPERATORS_QUERY = """
query BenchOperators {
  operators(first: 20, filter: {flagged: true}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id label size campaignScore topIdentifiers(first: 3) { kind value membersSharing } } }
  }
}
"""

DISCOVER_QUERY = """
query BenchDiscover {
  operators(first: 20) { edges { node { members(first: 50) { edges { node { id } } } } } }
}
"""


@dataclass
class LevelResult:
    workload: str
    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rps: float


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def run_level(
    client: httpx.AsyncClient, workload: str, make_body: Callable[[int], dict[str, Any]], concurrency: int, total: int
) -> LevelResult:
    latencies: list[float] = []
    errors = 0
    ticket = count()

    async def worker() -> None:
        nonlocal errors
        while (i := next(ticket)) < total:
            t0 = time.perf_counter()
            try:
                r = await client.post("/graphql", json=make_body(i))
                ok = r.status_code == 200 and "errors" not in r.json()
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return LevelResult(
        workload, concurrency, len(latencies), errors,
        percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, len(latencies) / elapsed,
    )


async def discover_accounts(client: httpx.AsyncClient) -> list[str]:
    r = await client.post("/graphql", json={"query": DISCOVER_QUERY})
    r.raise_for_status()
    data = r.json().get("data") or {}
    ids = [m["node"]["id"] for e in data.get("operators", {}).get("edges", [])
           for m in e["node"]["members"]["edges"] if m.get("node")]
    return ids


async def bench(url: str, key: str, levels: list[int], per_level: int, accounts: list[str] | None, warmup: int) -> list[LevelResult]:
    limits = httpx.Limits(max_connections=max(levels) + 5, max_keepalive_connections=max(levels) + 5)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60.0, limits=limits) as client:
        ids = accounts or await discover_accounts(client)
        if not ids:
            raise SystemExit("no accounts to query: the graph has no attributed operators (or pass --accounts)")

        def account_body(i: int) -> dict[str, Any]:
            return {"query": ACCOUNT_QUERY, "variables": {"id": ids[i % len(ids)]}, "operationName": "BenchAccount"}

        def operators_body(i: int) -> dict[str, Any]:
            return {"query": OPERATORS_QUERY, "operationName": "BenchOperators"}

        results = []
        for name, body in (("account(id)+evidence", account_body), ("operators page", operators_body)):
            await run_level(client, name, body, 4, warmup)  # warm connections, caches and plans
            for c in levels:
                results.append(await run_level(client, name, body, c, max(per_level, c * 4)))
        return results


def print_results(results: list[LevelResult]) -> None:
    print(f"{'workload':<22} {'conc':>5} {'requests':>9} {'errors':>7} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}")
    for r in results:
        print(f"{r.workload:<22} {r.concurrency:>5} {r.requests:>9} {r.errors:>7} {r.p50_ms:>9.1f} {r.p99_ms:>9.1f} {r.rps:>9.1f}")
    median = statistics.median(r.p50_ms for r in results) if results else float("nan")
    print(f"(median of p50s: {median:.1f} ms)")


def bench_app() -> Any:
    """uvicorn factory for ``--serve``: the app on the configured Neo4j with the bench key."""
    from sybilgraph.api import create_app
    from sybilgraph.settings import Settings
    from sybilgraph.settings.api import KeySpec, Role

    key = os.environ["SYBILGRAPH_BENCH_KEY"]
    spec = KeySpec(user="bench", role=Role(os.environ.get("SYBILGRAPH_BENCH_ROLE", "admin")))
    settings = Settings()
    api = settings.api.model_copy()
    api.keys = {key: spec}  # type: ignore[dict-item]  # validated on assignment: the key becomes a SecretStr
    return create_app(settings.model_copy(update={"api": api}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(
    workers: int, role: str, settings_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, str, tempfile.TemporaryDirectory[str]]:
    """``settings_env`` overrides the environment the server reads its Settings from."""
    key = secrets.token_urlsafe(24)
    port = _free_port()
    tmp = tempfile.TemporaryDirectory(prefix="sybilgraph-bench-")
    env = {**os.environ, **(settings_env or {}), "SYBILGRAPH_BENCH_KEY": key, "SYBILGRAPH_BENCH_ROLE": role,
           "SYBILGRAPH_API_AUDIT_PATH": os.path.join(tmp.name, "audit.jsonl")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sybilgraph.api.bench:bench_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return proc, url, key, tmp
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.terminate()
    raise SystemExit("the benchmark server did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sybilgraph.api.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start one with --serve)")
    parser.add_argument("--key", default=os.environ.get("SYBILGRAPH_BENCH_KEY"), help="API key for --url")
    parser.add_argument("--serve", action="store_true", help="start a server on the configured Neo4j")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes for --serve")
    parser.add_argument("--role", default="admin", choices=["viewer", "analyst", "admin"], help="role of the --serve key")
    parser.add_argument("--concurrency", default="1,10,50", help="comma-separated client counts")
    parser.add_argument("--requests", type=int, default=300, help="requests per level (at least 4 per client)")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--accounts", help="comma-separated account ids (default: members of current operators)")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.url and not args.serve:
        parser.error("give --url (with --key) or --serve")
    accounts = [a for a in (args.accounts or "").split(",") if a] or None
    if args.serve:
        proc, url, key, tmp = _serve(args.workers, args.role)
        try:
            results = asyncio.run(bench(url, key, levels, args.requests, accounts, args.warmup))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            tmp.cleanup()
    else:
        if not args.key:
            parser.error("--url needs --key (or SYBILGRAPH_BENCH_KEY)")
        results = asyncio.run(bench(args.url, args.key, levels, args.requests, accounts, args.warmup))
    print_results(results)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
