"""``sybilgraph bench --scale S``: the whole pipeline at one or more scales, beside its floors.

For each scale: generate (or reuse) a bundle, start from an empty database, ingest, attribute,
export, and probe the GraphQL API, recording per phase the wall time, rows/s, peak RSS of this
Python process and of the Neo4j JVM, and the store's size on disk; then the floors of the same
run on the same files (``floors.py``). Rendering is ``report.py``'s; goals are ``goals.py``'s.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sybilgraph.attribution import (
    AttributionParams,
    AttributionResult,
    read_export,
    run_attribution,
    write_export,
)
from sybilgraph.bench import floors
from sybilgraph.bench.api_probe import probe_api
from sybilgraph.bench.machine import disk_usage, git_commit, load_average, machine_info
from sybilgraph.bench.results import BenchRun, Phase, ScaleResult
from sybilgraph.bench.rss import (
    RssSampler,
    Sample,
    peak_between,
    peak_sum_between,
    windows_from_timings,
)
from sybilgraph.db.admin import reset
from sybilgraph.db.launcher import LocalNeo4j
from sybilgraph.db.session import Database
from sybilgraph.generate import generate_bundle
from sybilgraph.generate.bundle import MANIFEST
from sybilgraph.ingest import IngestReport, ingest_bundle
from sybilgraph.settings import Settings

__all__ = ["BenchOptions", "Server", "bench_scale", "bundle_dir", "run_bench", "server_for"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    scales: tuple[float, ...]
    seed: int = 1
    bundles: Path = Path("var/bench/bundles")
    fresh_store: bool = False  # recreate the local store (exact sizes on disk, a fresh JVM)
    api_clients: tuple[int, ...] = (1, 10)
    api_requests: int = 200
    attribution: AttributionParams = field(default_factory=AttributionParams)


@dataclass(frozen=True)
class Server:
    """The Neo4j under test, as far as this machine can see it (nothing when NEO4J_URI is set)."""

    local: LocalNeo4j | None

    def jvm_pid(self) -> int | None:
        if self.local is None:
            return None
        state = self.local.state()
        return state.pid if state.running else None

    @property
    def data_dir(self) -> Path | None:
        return self.local.home / "data" if self.local else None

    def footprint(self, db: Database) -> tuple[int | None, int | None]:
        """(store files, transaction logs) of the database on disk now, in bytes.

        Store files take the graph's pages only at a checkpoint (every 15 minutes, or a clean
        shutdown); until then the data is in the page cache and the transaction logs.
        """
        if self.data_dir is None:
            return None, None
        name = db.settings.neo4j_database
        return disk_usage(self.data_dir / "databases" / name), disk_usage(self.data_dir / "transactions" / name)

    def recreate_store(self, database: str) -> None:
        """Stop the local Neo4j, delete ``database``'s store and transaction logs, start it again
        (Neo4j creates the database empty).

        The system database stays: it holds the neo4j user's password, which the launcher sets
        once per home; deleting it left a server that refused the home's own password."""
        if self.local is None or self.data_dir is None:
            raise ValueError("only the local Neo4j's store can be recreated")
        self.local.stop()
        for part in ("databases", "transactions"):
            shutil.rmtree(self.data_dir / part / database, ignore_errors=True)
        self.local.start()

    def restart(self) -> None:
        """A clean stop checkpoints every page into the store files; then start again."""
        if self.local is None:
            raise ValueError("only the local Neo4j can be restarted")
        self.local.stop()
        self.local.start()


def server_for(settings: Settings) -> Server:
    return Server(LocalNeo4j(settings) if settings.uses_local_launcher else None)


def bundle_dir(bundles: Path, scale: float, seed: int) -> Path:
    return bundles / f"s{scale:g}-seed{seed}"


def run_bench(db: Database, server: Server, options: BenchOptions, command: str, log: Log = print) -> BenchRun:
    versions = db.versions()
    s = db.settings
    run = BenchRun(
        command=command,
        started_at=_now(),
        machine=machine_info({"neo4j": versions.neo4j, "neo4j_edition": versions.edition, "gds": versions.gds}),
        settings={"heap": s.heap, "pagecache": s.pagecache, "ingest_memory_limit": s.ingest.memory_limit,
                  "attribution_memory_limit": s.attribution.memory_limit, "batch_size": s.ingest.batch_size,
                  "local_neo4j": server.local is not None, "fresh_store": options.fresh_store},
        load_average={"before": load_average()},
    )
    for scale in options.scales:
        log(f"== scale {scale:g} (seed {options.seed})")
        run.scales.append(bench_scale(db, server, scale, options, log))
    run.load_average["after"] = load_average()
    return run


def bench_scale(db: Database, server: Server, scale: float, options: BenchOptions, log: Log = print) -> ScaleResult:
    result = ScaleResult(scale=scale, seed=options.seed, bundle="", bundle_generated=False,
                         measured_at=_now(), code=git_commit())
    with RssSampler() as sampler:
        rec = _Recorder(sampler, lambda: server.footprint(db), result, log)
        sampler.watch("jvm", server.jvm_pid())
        bundle = _bundle(rec, bundle_dir(options.bundles, scale, options.seed), scale, options.seed)
        _empty_database(db, server, options, result, log)
        sampler.watch("jvm", server.jvm_pid())  # a recreated store runs in a new JVM
        if server.jvm_pid() is None:
            result.notes.append("Neo4j runs elsewhere (NEO4J_URI): no JVM memory or store size here")
        result.floors["pyarrow_read"] = floors.pyarrow_read_floor(bundle)
        report = _ingest(rec, db, bundle)
        sampler.watch("jvm", server.jvm_pid())  # the bulk importer restarts the local Neo4j
        result.floors["duckdb_group_by"] = floors.duckdb_group_by_floor(bundle, db.settings)
        attribution = _attribute(rec, db, options.attribution)
        leiden = floors.leiden_floor(db, attribution.edges, options.attribution)
        if leiden is not None:
            result.floors["gds_leiden"] = leiden
        attribution.edges = None  # hundreds of MB at scale 1.0; the floor was all they were kept for
        _export(rec, db, scale)
        _probe(rec, db.settings, options)
    result.sizes.update(_sizes(report, attribution, bundle))
    if options.fresh_store:  # the store is ours to restart: measure it at rest, checkpointed
        server.restart()
        db.verify()
        store, tx_logs = server.footprint(db)
        result.sizes.update({"store_bytes_at_rest": store or 0, "tx_log_bytes_at_rest": tx_logs or 0})
    return result


# -- phases --------------------------------------------------------------------------------------
def _bundle(rec: _Recorder, path: Path, scale: float, seed: int) -> Path:
    rec.result.bundle = str(path)
    if (path / MANIFEST).is_file():  # the generator writes its manifest last: the bundle is whole
        rec.log(f"reusing bundle {path}")
        return path
    with rec.phase("generate", unit="interactions", footprint=False) as ph:
        report = generate_bundle(path, scale=scale, seed=seed)
        ph.rows = report.counts.get("interactions", 0)
    rec.result.bundle_generated = True
    return path


def _empty_database(db: Database, server: Server, options: BenchOptions, result: ScaleResult, log: Log) -> None:
    if options.fresh_store:
        log("recreating the local Neo4j store")
        server.recreate_store(db.settings.neo4j_database)
        db.verify()
        # The new store's transaction ids start over: a bookmark of the old one (versions() read
        # it) made the first query wait for a transaction that never comes (BookmarkTimeout).
        db.forget_bookmarks()
    else:
        result.notes.append("database emptied in place (store files keep their size); --fresh-store recreates it")
    reset(db)


def _ingest(rec: _Recorder, db: Database, bundle: Path) -> IngestReport:
    with rec.phase("ingest", unit="interactions") as ph:
        report = ingest_bundle(bundle, db.settings, db)
        interactions = report.tables["interactions"].rows_read if "interactions" in report.tables else 0
        ph.rows = interactions
    rows = {
        "validate": (sum(t.rows_read for t in report.tables.values()), "rows (all tables)"),
        "aggregate": (interactions, "interactions"),
        "write_graph": (sum(report.graph_writes.values()), "graph rows"),
    }
    rec.subphases("ingest", report.timings_s, rows)
    return report


def _attribute(rec: _Recorder, db: Database, params: AttributionParams) -> AttributionResult:
    with rec.phase("attribute", unit="accounts") as ph:
        result = run_attribution(db, params, keep_edges=True)
        ph.rows = result.counts.get("accounts", 0)
    c = result.counts
    rows = {"read": (c.get("links", 0), "links"), "evidence": (c.get("links", 0), "links"),
            "communities": (c.get("edges", 0), "edges"), "operators": (c.get("attributed", 0), "attributed accounts"),
            "write": (c.get("attributed", 0), "attributed accounts")}
    rows.update({k: rows["communities"] for k in result.timings_s if k.startswith("communities.")})
    rec.subphases("attribute", result.timings_s, rows)
    return result


def _export(rec: _Recorder, db: Database, scale: float) -> None:
    out = db.settings.home / "bench" / f"export-s{scale:g}.parquet"
    with rec.phase("export", unit="export rows") as ph:
        table = read_export(db)
        write_export(table, out)
        ph.rows = table.num_rows


def _probe(rec: _Recorder, settings: Settings, options: BenchOptions) -> None:
    with rec.phase("api", unit="requests") as ph:
        probe = probe_api(settings, options.api_clients, options.api_requests,
                          on_server=lambda pid: rec.sampler.watch("api", pid))
        ph.rows = sum(level.requests for level in probe.levels)
    api = rec.result.phase("api")
    if api is not None and probe.probe_s:
        api.seconds = round(probe.probe_s, 3)  # the probe itself; the server's start-up is a note
    rec.result.api = probe.levels
    rec.result.notes.append(f"API server start-up {probe.startup_s:.1f} s" if not probe.skipped
                            else f"API probe skipped: {probe.skipped}")


def _sizes(report: IngestReport, attribution: AttributionResult, bundle: Path) -> dict[str, int]:
    tables = report.tables
    sizes = {
        "accounts": tables["accounts"].rows_loaded if "accounts" in tables else 0,
        "interactions": tables["interactions"].rows_read if "interactions" in tables else 0,
        "rows": sum(t.rows_read for t in tables.values()),
        "rows_quarantined": report.rows_quarantined,
        "graph_rows": sum(report.graph_writes.values()),
        "bundle_bytes": disk_usage(bundle) or 0,
    }
    for key in ("links", "edges", "operators", "attributed", "flagged_operators"):
        sizes[key] = int(attribution.counts.get(key, 0))
    return sizes


# -- recording -----------------------------------------------------------------------------------
@dataclass
class _Rows:
    rows: int | None = None


class _Recorder:
    """Times phases and cuts their memory peaks out of the sampler's series."""

    def __init__(
        self, sampler: RssSampler, footprint: Callable[[], tuple[int | None, int | None]], result: ScaleResult, log: Log
    ) -> None:
        self.sampler, self.footprint, self.result, self.log = sampler, footprint, result, log
        self.windows: dict[str, tuple[float, float]] = {}

    @contextmanager
    def phase(self, name: str, unit: str, footprint: bool = True) -> Iterator[_Rows]:
        # The memory window includes the boundary samples, so a phase shorter than the sampling
        # interval still has a simultaneous Python + JVM reading; the timing window does not.
        w0 = time.monotonic()
        reset = self.sampler.reset_marks()
        holder = _Rows()
        t0 = time.monotonic()
        yield holder
        t1 = time.monotonic()
        marks = self.sampler.high_water_marks()
        w1 = time.monotonic()
        peaks = self._peaks(w0, w1)
        for proc, took in reset.items():  # the kernel's mark catches what fell between samples
            if took and marks.get(proc) is not None:
                peaks[proc] = max(peaks.get(proc) or 0, marks[proc] or 0)
        store, tx_logs = self.footprint() if footprint else (None, None)  # after t1: not timed
        phase = Phase(name, round(t1 - t0, 3), holder.rows, unit, peaks,
                      peak_sum_between(self.sampler.snapshot(), ("python", "jvm"), w0, w1), store, tx_logs)
        self.result.phases.append(phase)
        self.windows[name] = (t0, t1)
        self.log(f"{name}: {phase.seconds:.1f} s" + (f", {phase.rows:,} {unit}" if phase.rows is not None else ""))

    def subphases(self, parent: str, timings: dict[str, float], rows: dict[str, tuple[int, str]]) -> None:
        """Sub-phases from the parent's own timings; their memory windows are rebuilt from them."""
        start = self.windows[parent][0]
        samples = self.sampler.snapshot()
        for name, (t0, t1) in windows_from_timings(start, timings).items():
            count, unit = rows.get(name, (None, None))
            self.result.phases.append(Phase(
                f"{parent}.{name}", timings[name], count, unit, self._peaks(t0, t1, samples),
                peak_sum_between(samples, ("python", "jvm"), t0, t1), None, approximate_window=True,
            ))

    def _peaks(self, t0: float, t1: float, samples: list[Sample] | None = None) -> dict[str, int | None]:
        samples = samples if samples is not None else self.sampler.snapshot()
        names = sorted({n for s in samples for n in s.rss})
        peaks = {n: peak_between(samples, n, t0, t1) for n in names}
        return {n: v for n, v in peaks.items() if v is not None}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
