"""Load benchmark of the API (not a test): latency percentiles, throughput and cache hit rate.

Two workloads an investigation console sends most: ``account(id)`` with its current operator
and evidence, and a page of ``operators`` (20 at a time, each ordering and flag filter). Each
runs at each client count in two passes over the same set of distinct requests:

* **cold**: the first time each request is asked (the response cache has never seen it);
* **warm**: the same requests again (answers come from the cache while the data is unchanged).

For each pass the script prints p50/p99 latency, requests per second and the share of answers
the cache served (the server's ``X-Sybilgraph-Cache`` header, which ``--serve`` turns on).
Requests name their documents by hash (trusted documents) unless ``--send-text``.

    # start a server (uvicorn subprocess, random keys, throwaway audit log) on the configured Neo4j
    python -m sybilgraph.api.bench --serve [--workers 2]
    # and the same workload against the code of another checkout, side by side in one run
    python -m sybilgraph.api.bench --serve --baseline-src /tmp/api-baseline/src
    # against a running server
    python -m sybilgraph.api.bench --url http://127.0.0.1:8000 --key "$KEY"

Account ids are the members of the current operators; the server under test should hold an
attributed graph.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import httpx

__all__ = ["ACCOUNT_QUERY", "OPERATORS_QUERY", "LevelResult", "bench", "bench_app", "main"]

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
query BenchOperators($flagged: Boolean, $orderBy: OperatorOrder, $first: Int!) {
  operators(first: $first, filter: {flagged: $flagged}, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id label size campaignScore topIdentifiers(first: 3) { kind value membersSharing } } }
  }
}
"""

DISCOVER_QUERY = """
query BenchDiscover($after: String) {
  operators(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { members(first: 20) { edges { node { id } } } } }
  }
}
"""

DOCUMENTS = {"BenchAccount": ACCOUNT_QUERY, "BenchOperators": OPERATORS_QUERY}
ACCOUNT_WORKLOAD = "account(id)+evidence"
OPERATORS_WORKLOAD = "operators page"


@dataclass
class LevelResult:
    workload: str
    phase: str  # cold | warm
    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rps: float
    hit_rate: float | None  # answers the cache served (None: the server does not say)
    server_cpu_ms: float | None = None  # server CPU (all its processes) per request: robust on a busy machine

    @property
    def label(self) -> str:
        return f"{self.workload} {self.phase}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def process_tree_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its children (uvicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        this, parent = int(stat.parent.name), int(fields[1])
        if this == pid or parent == pid:
            total += int(fields[11]) + int(fields[12])
            found = True
    return total / ticks if found else None


async def run_level(
    client: aiohttp.ClientSession, workload: str, phase: str, bodies: list[dict[str, Any]], concurrency: int,
    server_pid: int | None = None,
) -> LevelResult:
    """Send every body once, from ``concurrency`` clients back to back (aiohttp: the client must
    cost much less than the server, or the benchmark measures the client)."""
    payloads = [json.dumps(b).encode() for b in bodies]
    cpu0 = process_tree_cpu_s(server_pid) if server_pid else None
    latencies: list[float] = []
    errors = hits = told = 0
    ticket = count()

    async def worker() -> None:
        nonlocal errors, hits, told
        while (i := next(ticket)) < len(payloads):
            t0 = time.perf_counter()
            try:
                async with client.post("/graphql", data=payloads[i]) as r:
                    content = await r.read()
                    ok = r.status == 200 and b'"errors"' not in content
                    cache = r.headers.get("x-sybilgraph-cache")
            except aiohttp.ClientError:
                ok, cache = False, None
            latencies.append(time.perf_counter() - t0)
            errors += 0 if ok else 1
            if cache is not None:
                told += 1
                hits += cache in ("hit", "coalesced")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu1 = process_tree_cpu_s(server_pid) if server_pid else None
    cpu_ms = (cpu1 - cpu0) * 1000 / len(latencies) if cpu0 is not None and cpu1 is not None and latencies else None
    return LevelResult(
        workload, phase, concurrency, len(latencies), errors,
        percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, len(latencies) / elapsed,
        hits / told if told else None, cpu_ms,
    )


async def discover_accounts(client: aiohttp.ClientSession, wanted: int) -> list[str]:
    ids: list[str] = []
    after = None
    while len(ids) < wanted:
        async with client.post("/graphql", json={"query": DISCOVER_QUERY, "variables": {"after": after}}) as r:
            r.raise_for_status()
            answer = await r.json()
        if answer.get("errors"):
            raise SystemExit(f"could not list accounts to query: {answer['errors'][0].get('message')}")
        data = (answer.get("data") or {}).get("operators") or {}
        ids += [m["node"]["id"] for e in data.get("edges", []) for m in e["node"]["members"]["edges"] if m.get("node")]
        if not data.get("pageInfo", {}).get("hasNextPage"):
            break
        after = data["pageInfo"]["endCursor"]
    return ids


def _body(name: str, variables: dict[str, Any], send_text: bool) -> dict[str, Any]:
    doc = DOCUMENTS[name]
    if send_text:
        return {"query": doc, "variables": variables, "operationName": name}
    from sybilgraph.api.documents import document_sha256

    return {"documentId": f"sha256:{document_sha256(doc)}", "variables": variables, "operationName": name}


def operator_pages() -> list[dict[str, Any]]:
    """Distinct operator pages: page size 5-25, each ordering, each flag filter (252 in all)."""
    pages = []
    for first in range(5, 26):
        for field in ("SIZE", "CAMPAIGN_SCORE"):
            for direction in ("ASC", "DESC"):
                for flagged in (True, False, None):
                    pages.append({"first": first, "flagged": flagged, "orderBy": {"field": field, "direction": direction}})
    return pages


async def bench(
    url: str, key: str, levels: list[int], per_level: int, accounts: list[str] | None = None, warmup: int = 0,
    send_text: bool = False, server_pid: int | None = None,
) -> list[LevelResult]:
    """Cold then warm passes of both workloads at each client count (disjoint requests per count)."""
    connector = aiohttp.TCPConnector(limit=max(levels) + 5)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url=url, headers=headers, connector=connector, timeout=timeout) as client:
        ids = accounts or await discover_accounts(client, per_level * len(levels))
        if not ids:
            raise SystemExit("no accounts to query: the graph has no attributed operators (or pass --accounts)")
        pages = operator_pages()
        results = []
        for name, workload, keys in (("BenchAccount", ACCOUNT_WORKLOAD, [{"id": i} for i in ids]),
                                     ("BenchOperators", OPERATORS_WORKLOAD, pages)):
            share = max(1, len(keys) // len(levels))
            for n, c in enumerate(levels):
                mine = keys[n * share:(n + 1) * share][:per_level] or keys[:per_level]
                bodies = [_body(name, v, send_text) for v in mine]
                repeats = max(1, per_level // len(bodies))
                results.append(await run_level(client, workload, "cold", bodies, c, server_pid))
                results.append(await run_level(client, workload, "warm", bodies * repeats, c, server_pid))
        return results


def print_results(results: list[LevelResult], title: str | None = None) -> None:
    if title:
        print(f"== {title}")
    print(f"{'workload':<22} {'pass':<5} {'conc':>5} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'req/s':>8} {'hit rate':>9} {'server CPU ms/req':>18}")
    for r in results:
        hit = "-" if r.hit_rate is None else f"{r.hit_rate:.0%}"
        cpu = "-" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}"
        print(f"{r.workload:<22} {r.phase:<5} {r.concurrency:>5} {r.requests:>9} {r.errors:>7} {r.p50_ms:>8.1f} "
              f"{r.p99_ms:>8.1f} {r.rps:>8.0f} {hit:>9} {cpu:>18}")


def bench_app() -> Any:
    """uvicorn factory for ``--serve``: production mode on the configured Neo4j with the bench
    key (limits high enough not to throttle the benchmark), the bench documents trusted, and the
    cache status header on."""
    from sybilgraph.api import create_app
    from sybilgraph.settings import Settings
    from sybilgraph.settings.api import KeySpec, RateLimit, Role

    settings = Settings()
    key = os.environ["SYBILGRAPH_BENCH_KEY"]
    spec = KeySpec(user="bench", role=Role(os.environ.get("SYBILGRAPH_BENCH_ROLE", "admin")))
    unlimited = {r.value: RateLimit(per_second=1e6, burst=1e6) for r in Role}
    api = settings.api.model_copy(update={"rate_limits": unlimited, "lookup_rate_limits": unlimited,
                                          "cache_status_header": True,
                                          "trusted_documents": Path(os.environ["SYBILGRAPH_BENCH_DOCUMENTS"])})
    api.keys = {key: spec}  # validated assignment: the key becomes a SecretStr
    return create_app(settings, api_settings=api)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(
    workers: int,
    role: str,
    settings_env: dict[str, str] | None = None,
    *,
    src: Path | None = None,
    extra_env: dict[str, str] | None = None,
    uvicorn_args: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], str, str, tempfile.TemporaryDirectory[str]]:
    """A uvicorn server in a child process; ``src`` runs another checkout's code (its ``src/``)."""
    key = secrets.token_urlsafe(24)
    port = _free_port()
    tmp = tempfile.TemporaryDirectory(prefix="sybilgraph-bench-")
    documents = Path(tmp.name) / "trusted-documents.json"
    documents.write_text(json.dumps(list(DOCUMENTS.values())))
    env = {**os.environ, **(settings_env or {}), "SYBILGRAPH_BENCH_KEY": key, "SYBILGRAPH_BENCH_ROLE": role,
           "SYBILGRAPH_BENCH_DOCUMENTS": str(documents),
           "SYBILGRAPH_API_MASK_KEY": secrets.token_urlsafe(24), "SYBILGRAPH_API_AUDIT_KEY": secrets.token_urlsafe(24),
           "SYBILGRAPH_API_AUDIT_PATH": os.path.join(tmp.name, "audit.jsonl"), **(extra_env or {})}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sybilgraph.api.bench:bench_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
         "--no-proxy-headers", *(uvicorn_args or [])],
        env=env, cwd=str(src.parent) if src is not None else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a busy machine starts Python slowly
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


def _bench_server(args: argparse.Namespace, levels: list[int], src: Path | None, send_text: bool,
                  extra_env: dict[str, str] | None = None) -> list[LevelResult]:
    proc, url, key, tmp = _serve(args.workers, args.role, src=src, extra_env=extra_env, uvicorn_args=args.uvicorn.split())
    try:
        return asyncio.run(bench(url, key, levels, args.requests, _accounts(args), send_text=send_text, server_pid=proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        tmp.cleanup()


def _accounts(args: argparse.Namespace) -> list[str] | None:
    return [a for a in (args.accounts or "").split(",") if a] or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sybilgraph.api.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start one with --serve)")
    parser.add_argument("--key", default=os.environ.get("SYBILGRAPH_BENCH_KEY"), help="API key for --url")
    parser.add_argument("--serve", action="store_true", help="start a server on the configured Neo4j")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes for --serve")
    parser.add_argument("--role", default="admin", choices=["viewer", "analyst", "admin"], help="role of the --serve key")
    parser.add_argument("--concurrency", default="1,10", help="comma-separated client counts")
    parser.add_argument("--requests", type=int, default=400, help="distinct requests per pass and client count")
    parser.add_argument("--accounts", help="comma-separated account ids (default: members of current operators)")
    parser.add_argument("--send-text", action="store_true", help="send document text instead of trusted hashes")
    parser.add_argument("--baseline-src", type=Path,
                        help="also serve the code of another checkout's src/ (its own bench_app) and bench it first")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--uvicorn", default="", help="extra uvicorn options for --serve, e.g. '--http h11 --loop asyncio'")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.url and not args.serve:
        parser.error("give --url (with --key) or --serve")
    runs: dict[str, list[LevelResult]] = {}
    if args.serve:
        if args.baseline_src:  # the other checkout's own server, sent the document text it understands
            runs["baseline"] = _bench_server(args, levels, args.baseline_src.resolve(), send_text=True)
        runs["this"] = _bench_server(args, levels, None, send_text=args.send_text)
    else:
        if not args.key:
            parser.error("--url needs --key (or SYBILGRAPH_BENCH_KEY)")
        runs["this"] = asyncio.run(bench(args.url, args.key, levels, args.requests, _accounts(args), send_text=args.send_text))
    for name, results in runs.items():
        print_results(results, name if len(runs) > 1 else None)
    if args.json:
        args.json.write_text(json.dumps({k: [r.__dict__ for r in v] for k, v in runs.items()}, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
