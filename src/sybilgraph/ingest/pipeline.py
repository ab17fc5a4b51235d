"""``sybilgraph ingest BUNDLE`` and ``--withdraw BUNDLE_ID``: deliveries in, the graph follows.

Phases of an ingest (all under one writer lock, ``writer_lock.py``):

1. *validate*: each contract table is read in streamed batches, bad rows go to quarantine,
   good rows to a staging area of the columnar store, with the delivery's partial aggregates
   (``partials.py``: each interaction or session id counts once; computed from the validated
   batches themselves, ``fused.py``, unless the delivery is large or repeats ids);
   one manifest write makes the delivery live and, for a redelivery of the same bundle id,
   withdraws the earlier one (the data contract's "Deliveries"). The same content again skips
   this phase.
2. *aggregate*: ``combine.py`` folds every live delivery's partials and versioned rows into the
   state tables (``state.py``): accounts, identifiers, links, labels, ...
3. *write*: ``sync.py`` writes the rows that differ from what the graph holds and deletes the
   links and nodes that left; the state is saved last (``state.read_state``). An empty local
   graph is instead loaded by Neo4j's offline bulk importer (``bulk_import.py``).

A withdrawal is a manifest write followed by phases 2 and 3. A run killed at any point and
started again converges on the state of a clean run: staging areas and directories outside the
manifest are removed, sequence numbers are never reused, partials that depended on a withdrawn
delivery are computed again, and graph rows are absolute values written idempotently.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sybilgraph.contract import TABLE_ORDER, TABLES
from sybilgraph.db.lease import Lease
from sybilgraph.db.session import Database
from sybilgraph.errors import BundleError, IngestMemoryError, TableError
from sybilgraph.ingest.aggregators import INPUT_TABLES, PARTIAL_SCHEMAS, AggregateInput, Aggregator, make_aggregator
from sybilgraph.ingest.bulk_import import BulkImportError, import_files, run_import
from sybilgraph.ingest.bundle import Bundle, open_bundle
from sybilgraph.ingest.columnar import PARQUET_OPTIONS, ColumnarStore, Delivery, StagedTable
from sybilgraph.ingest.combine import VERSIONED_TABLES
from sybilgraph.ingest.fused import FusedPartials
from sybilgraph.ingest.partials import compute_partials
from sybilgraph.ingest.plan import StatePlan, combine_input, plan_state, staged_schema
from sybilgraph.ingest.readers import QUARANTINE_SCHEMA, read_table
from sybilgraph.ingest.report import IngestReport, TableReport, WithdrawReport, read_report, report_dir, report_path
from sybilgraph.ingest.state import GRAPH_TABLES, StateDir, new_lineage
from sybilgraph.ingest.sync import publish_held, sync_graph, why_graph_lacks_state
from sybilgraph.ingest.writer_lock import WriterGuard, exclusive_writer
from sybilgraph.progress import NullReporter, Reporter
from sybilgraph.settings import Settings
from sybilgraph.timing import timed

__all__ = [
    "aggregate_input",
    "bundle_digest",
    "combine_input",
    "ingest_bundle",
    "refresh_partials",
    "stage_delivery",
    "withdraw_bundle",
]

log = logging.getLogger("sybilgraph.ingest")

# Tables whose rows are versioned by ingest order (a later delivery's row wins).
SEQUENCED_TABLES = frozenset(VERSIONED_TABLES)


def bundle_digest(bundle_dir: Path) -> str:
    """Content hash of the bundle's contract files: the same content always has the same digest."""
    return open_bundle(bundle_dir).digest


def ingest_bundle(
    bundle_dir: Path,
    settings: Settings,
    db: Database,
    reporter: Reporter | None = None,
    full_write: bool = False,
    lease: Lease | None = None,
) -> IngestReport:
    """Ingest one delivery of a bundle (a redelivery replaces the earlier one of its bundle id).

    ``lease``: the ``ingest`` lease when the caller holds it already (the scheduler); otherwise
    it is taken here, and released at the end.
    """
    bundle = open_bundle(Path(bundle_dir))
    reporter = reporter or NullReporter()
    with _writer_session(db, settings, lease) as (guard, store, timings):
        live = store.delivery(bundle.bundle_id)
        if live is not None and live.digest == bundle.digest:
            report = _unchanged_report(settings, live, bundle)
        else:
            report = stage_delivery(bundle, store, settings, reporter, live, timings, guard.check)
        report.timings_s = {**timings, **{k: v for k, v in report.timings_s.items() if k not in timings}}
        report.report_file = str(report_path(settings.runs_dir, report.ingest_id))
        report.write(Path(report.report_file))  # staging is durable from here on
        report.graph_writes, report.state_update = _converge(db, store, settings, reporter, guard, report.timings_s,
                                                             full_write, report.warnings)
        db.write(
            "ingest/merge_ingest_run",
            fence=guard.fence,
            ingest_id=report.ingest_id,
            bundle_id=report.bundle_id,
            bundle=str(bundle.path),
            seq=report.seq,
            rows_loaded=report.rows_loaded,
            rows_quarantined=report.rows_quarantined,
            status=report.status,
        )
        if report.replaced:
            db.write("ingest/set_ingest_run_status", fence=guard.fence, ingest_id=report.replaced, status="replaced")
        report.write(Path(report.report_file))
    return report


def withdraw_bundle(
    bundle_id: str, settings: Settings, db: Database, reporter: Reporter | None = None, lease: Lease | None = None
) -> WithdrawReport:
    """Remove a live delivery: its rows leave the store, and the graph what only it supported."""
    reporter = reporter or NullReporter()
    with _writer_session(db, settings, lease) as (guard, store, timings):
        guard.check()
        gone = store.withdraw(bundle_id)
        if gone is None:
            # A withdrawal killed after its manifest write left the graph behind: catch it up.
            _converge(db, store, settings, reporter, guard, timings, full_write=False)
            live = ", ".join(e.bundle_id for e in store.entries()) or "none"
            raise BundleError(f"no live delivery of bundle '{bundle_id}' to withdraw (live: {live})")
        report = WithdrawReport(bundle_id=bundle_id, ingest_id=gone.ingest_id, seq=gone.seq)
        report.graph_writes, report.state_update = _converge(db, store, settings, reporter, guard, timings, full_write=False)
        report.timings_s = timings
        db.write("ingest/set_ingest_run_status", fence=guard.fence, ingest_id=gone.ingest_id, status="withdrawn")
        # After the change committed: the API's run-scoped cache must not serve withdrawn rows.
        db.write("db/bump_data_version", reason=f"withdrawn bundle {bundle_id}")
    return report


@contextmanager
def _writer_session(
    db: Database, settings: Settings, lease: Lease | None
) -> Iterator[tuple[WriterGuard, ColumnarStore, dict[str, float]]]:
    """What every writer starts with: the writer lock, the schema, and the store recovered.

    Yields (guard, store, timings); ``timings`` already holds the schema step.
    """
    store = ColumnarStore(settings.columnar_dir)
    with exclusive_writer(db, settings, lease) as guard:
        timings: dict[str, float] = {}
        with timed(timings, "schema"):
            db.apply_schema()
        store.recover()  # what a killed writer left is removed before anything reads the store
        try:
            yield guard, store, timings
        except duckdb.OutOfMemoryException as exc:
            # The 4 GB default fits scale 0.2 with room; a bundle of the reported campaign's size
            # (scale 1.0) needs about 8 GB. Say which setting to raise, not DuckDB's internals.
            raise IngestMemoryError(
                f"the columnar aggregation needed more than ingest.memory_limit = {settings.ingest.memory_limit} "
                f"({exc}); raise it, e.g. SYBILGRAPH_INGEST__MEMORY_LIMIT=8GB for a bundle of about 50M "
                "interactions, and run the same command again (a re-run resumes and finishes this delivery)"
            ) from exc


def _unchanged_report(settings: Settings, live: Delivery, bundle: Bundle) -> IngestReport:
    """The same content delivered again: the earlier report, nothing staged."""
    previous = read_report(report_path(settings.runs_dir, live.ingest_id))
    report = IngestReport(ingest_id=live.ingest_id, bundle_id=live.bundle_id, bundle=str(bundle.path), seq=live.seq)
    if previous is not None:
        report.tables, report.quarantine_file = previous.tables, previous.quarantine_file
        report.rows_repeated = previous.rows_repeated
    report.reused_staging = True
    report.warnings = [f"{bundle.path / name}: not a contract table; ignored" for name in bundle.unknown]
    return report


def stage_delivery(
    bundle: Bundle,
    store: ColumnarStore,
    settings: Settings,
    reporter: Reporter,
    live: Delivery | None,
    timings: dict[str, float],
    check: Callable[[], None] = lambda: None,
) -> IngestReport:
    """Phase 1: validate and stage a delivery with its partials, and make it live.

    ``live``: the delivery of the same bundle id it replaces. ``check`` runs before the commit.
    """
    seq = store.allocate_seq()  # taken for good before anything is staged
    ingest_id = Delivery.key(seq)
    report = IngestReport(ingest_id=ingest_id, bundle_id=bundle.bundle_id, bundle=str(bundle.path), seq=seq,
                          replaced=live.ingest_id if live else None, source=bundle.source,
                          produced_at=bundle.produced_at)
    report.warnings = [f"{bundle.path / name}: not a contract table; ignored" for name in bundle.unknown]
    staging = store.staging(ingest_id)
    fused = _fused_partials(store, settings, bundle)
    try:
        with timed(timings, "validate"):
            _stage_bundle(bundle, store, staging, seq, report_dir(settings.runs_dir, ingest_id), report, reporter, settings,
                          live, fused)
        with timed(timings, "partials"):
            files = {t: [str(p) for p in sorted((staging / t).glob("*.parquet"))] for t in INPUT_TABLES}
            result = compute_partials(store, files, seq, _aggregator(store, settings), _connector(store, settings),
                                      {t: staged_schema(t) for t in INPUT_TABLES}, exclude=live,
                                      precomputed=fused.result if fused else None)
            store.write_partial(staging / "partial-1", result.tables)
    finally:
        if fused is not None:
            fused.close()
    report.partials_from = result.source
    report.rows_repeated = result.rows_repeated
    check()
    store.commit(Delivery(bundle_id=bundle.bundle_id, seq=seq, ingest_id=ingest_id, digest=bundle.digest,
                          bundle=str(bundle.path), suppressed_by=result.suppressed_by, source=bundle.source,
                          produced_at=bundle.produced_at))
    return report


def _converge(
    db: Database,
    store: ColumnarStore,
    settings: Settings,
    reporter: Reporter,
    guard: WriterGuard,
    timings: dict[str, float],
    full_write: bool,
    warnings: list[str] | None = None,
) -> tuple[dict[str, int], str | None]:
    """Phases 2 and 3: partials brought up to date, the state spliced or combined
    (``plan.py``), and the graph synced to it.

    Nothing to do when the graph already holds the store's current revision (the same content
    delivered again, a rerun after a completed run). A graph that does not hold the saved state
    (emptied since, another database, restored from before it: ``sync.why_graph_lacks_state``)
    is written whole. An empty local graph is bulk-loaded. Returns the graph writes and how the
    state was updated (None when nothing was to do).
    """
    with timed(timings, "aggregate"):
        state = StateDir(store.state_dir)
        lacks = None if full_write else why_graph_lacks_state(db, state)
        if lacks is not None:
            log.warning("%s: writing every row of the state again", lacks)
            if warnings is not None:
                warnings.append(f"{lacks}: every row of the state was written again")
            full_write = True
        refresh_partials(store, settings)
        revision = store.revision()
        if not full_write and state.source_revision() == revision:
            return {}, None
        plan = plan_state(store, settings, full=full_write)
    log.info("state update by %s", plan.how)
    whole = plan.whole
    path, why = _load_path(db, settings, whole, guard) if whole is not None else ("transactions", None)
    if path == "bulk":
        try:
            return _bulk_load(db, store, settings, plan, guard, timings, revision), plan.how
        except BulkImportError as e:
            # run_import put the empty store back and started the server: load it the slow way.
            why = f"{e}\nthe bulk importer failed; loading through transactions instead"
            _wait_for(db)
            if guard.paused:
                guard.resume(db)
    if why and warnings is not None:
        warnings.append(why)
    with timed(timings, "write_graph"):
        writes = sync_graph(db, store, plan.tables, reporter, settings.ingest.batch_size // 2, full_write, guard,
                            revision, scope=plan.scope, deliveries=plan.deliveries)
    return writes, plan.how


def _load_path(
    db: Database, settings: Settings, tables: dict[str, pa.Table], guard: WriterGuard
) -> tuple[str, str | None]:
    """("bulk" or "transactions", why the bulk importer is not used when it could pay off).

    Bulk only into a graph that holds nothing but leases and the API's data version (the import
    replaces the whole store), and only for a writer that took the lease itself: the scheduler's
    lease and job state live in the database the import would stop under it.
    """
    rows = sum(tables[name].num_rows for name in GRAPH_TABLES)
    if not settings.ingest.bulk_import or rows < settings.ingest.bulk_import_min_rows:
        return "transactions", None
    if db.read("ingest/read_data_node")[0]["has_data"]:
        return "transactions", None
    if not guard.owned:
        return "transactions", (
            f"the graph is empty, but this ingest runs under a lease its caller holds (the scheduler): "
            f"loading {rows:,} rows through transactions; `sybilgraph ingest` bulk-loads an empty graph"
        )
    if not settings.uses_local_launcher:
        return "transactions", (
            f"the graph is empty but the database is the server NEO4J_URI names ({settings.bolt_uri}): "
            f"loading {rows:,} rows through transactions; the bulk importer needs the local launcher's store"
        )
    return "bulk", None


def _bulk_load(
    db: Database,
    store: ColumnarStore,
    settings: Settings,
    plan: StatePlan,
    guard: WriterGuard,
    timings: dict[str, float],
    revision: int,
) -> dict[str, int]:
    tables = plan.whole
    assert tables is not None, "the bulk importer loads whole tables"
    work = store.root / "tmp" / "bulk-import"
    with timed(timings, "import_files"):
        files = import_files(tables, work / "csv")
    guard.check()
    guard.pause()  # the lease lives in the database, which stops now
    state = StateDir(store.state_dir)
    saving: list[Future[Path]] = []
    with ThreadPoolExecutor(max_workers=1) as background:
        # The state's files are written while the server starts on the imported store and takes
        # its schema (0.95x the load's time at scale 1.0 against writing them after), and are
        # published only once the graph is complete: a kill before that leaves the old state.
        def save_state() -> None:
            saving.append(background.submit(state.prepare, tables, PARQUET_OPTIONS, plan.deliveries))

        with timed(timings, "bulk_import"):
            run_import(settings, files, work, imported=save_state, timings=timings)
        with timed(timings, "schema_after_import"):
            _wait_for(db)
            guard.resume(db)
            db.apply_schema()
        with timed(timings, "save_state"):
            prepared = saving[0].result()
            guard.check()
            publish_held(db, guard, state, prepared, revision, new_lineage())  # a graph loaded whole starts a lineage
            state.clear_pending()  # the import replaced the whole graph
    shutil.rmtree(work, ignore_errors=True)
    nodes = sum(f.rows for f in files if f.kind == "nodes")
    return {"imported_nodes": nodes, "imported_relationships": sum(f.rows for f in files) - nodes}


def _wait_for(db: Database, timeout_s: float = 120.0) -> None:
    """The restarted server answers (the driver's pooled connections died with the old one)."""
    db.forget_bookmarks()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.read("ingest/read_data_node")
            return
        except Exception:  # noqa: BLE001 - retried until the deadline, then raised
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# -- phase 1: validate and stage -----------------------------------------------------------------
def _stage_bundle(
    bundle: Bundle,
    store: ColumnarStore,
    staging: Path,
    seq: int,
    run_dir: Path,
    report: IngestReport,
    reporter: Reporter,
    settings: Settings,
    replaced: Delivery | None = None,
    fused: FusedPartials | None = None,
) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    quarantine_path = run_dir / "quarantine.csv"
    report.quarantine_file = str(quarantine_path)
    known_before = _known_accounts(store, replaced)
    bundle_accounts: list[pa.Array] = []
    with _QuarantineFile(quarantine_path) as quarantine:
        for table in TABLE_ORDER:
            if table in bundle.table_errors:
                report.tables[table] = TableReport(table=table, error=bundle.table_errors[table])
                continue
            files = bundle.files.get(table, [])
            if not files:
                continue
            tr = report.tables.setdefault(table, TableReport(table=table))
            tr.files = [str(f) for f in files]
            known = None
            if TABLES[table].references_accounts:
                known = pa.concat_arrays([known_before, *bundle_accounts]) if bundle_accounts else known_before
            schema = staged_schema(table)
            staged = StagedTable(staging / table, schema)
            try:
                with reporter.phase(f"validate {table}") as phase:
                    batches = read_table(bundle.path, table, known_accounts=known,
                                         batch_rows=settings.ingest.batch_size * 10, files=files)
                    for vb in batches:
                        good = _with_seq(vb.good, seq) if table in SEQUENCED_TABLES else vb.good
                        if good.num_rows:
                            good = pa.RecordBatch.from_arrays(good.columns, schema=schema)
                            staged.write(good)
                            if fused is not None:
                                fused.add(table, good)  # the same batch, aggregated once all are staged
                        quarantine.write(vb.bad)
                        tr.rows_read += vb.rows_read
                        tr.rows_loaded += vb.good.num_rows
                        tr.rows_quarantined += vb.bad.num_rows
                        if table == "accounts" and vb.good.num_rows:
                            bundle_accounts.append(vb.good.column("account_id"))
                        phase.advance(vb.rows_read)
                staged.close()
            except TableError as e:
                staged.discard()
                if fused is not None:
                    fused.failed(table)
                tr.error, tr.rows_loaded = str(e), 0
                if table == "accounts":
                    bundle_accounts.clear()
                log.error("%s", e)


def _with_seq(batch: pa.RecordBatch, seq: int) -> pa.RecordBatch:
    return batch.append_column("_ingest_seq", pa.array([seq] * batch.num_rows, pa.int64()))


def _known_accounts(store: ColumnarStore, replaced: Delivery | None) -> pa.Array:
    """Accounts of the live deliveries, but the one this delivery replaces."""
    entries = [e for e in store.entries() if replaced is None or e.seq != replaced.seq]
    files = store.table_files("accounts", entries)
    if not files:
        return pa.array([], pa.string())
    con = store.connect()
    try:
        return con.read_parquet(files).aggregate("account_id", "account_id").to_arrow_table().column(0).combine_chunks()
    finally:
        con.close()


class _QuarantineFile:
    """Quarantined rows as CSV; created only when there is something to quarantine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pacsv.CSVWriter | None = None
        path.unlink(missing_ok=True)

    def __enter__(self) -> _QuarantineFile:
        return self

    def write(self, bad: pa.Table) -> None:
        if bad.num_rows == 0:
            return
        if self._writer is None:
            self._writer = pacsv.CSVWriter(str(self.path), QUARANTINE_SCHEMA)
        self._writer.write_table(bad.cast(QUARANTINE_SCHEMA))

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()


# -- phase 2: aggregate --------------------------------------------------------------------------
def aggregate_input(store: ColumnarStore, entries: list[Delivery] | None = None) -> AggregateInput:
    """What a partial aggregation reads: the staged link tables of the given (default: all) deliveries."""
    return AggregateInput(
        tables={table: store.table_files(table, entries) or None for table in INPUT_TABLES},
        schemas={table: staged_schema(table) for table in INPUT_TABLES},
    )


def _aggregator(store: ColumnarStore, settings: Settings) -> Aggregator:
    return make_aggregator(
        settings.ingest.aggregator,
        _connector(store, settings),
        spark_master=settings.ingest.spark_master,
        work_dir=store.root / "spark",
        java_home=settings.java_home,
        spark_conf=settings.ingest.spark_conf,
    )


def _fused_partials(store: ColumnarStore, settings: Settings, bundle: Bundle) -> FusedPartials | None:
    """The fused pass (``fused.py``), for the DuckDB aggregator when it is not switched off, and
    not for a bundle whose Parquet files alone hold more rows than it may keep: at scale 1.0 it
    held 12M rows (~2.4 GB) before giving up."""
    if settings.ingest.aggregator != "duckdb" or settings.ingest.fused_max_rows <= 0:
        return None
    if _parquet_rows(bundle, INPUT_TABLES) > settings.ingest.fused_max_rows:
        return None
    return FusedPartials(_connector(store, settings), {t: staged_schema(t) for t in INPUT_TABLES},
                         settings.ingest.fused_max_rows)


def _parquet_rows(bundle: Bundle, tables: tuple[str, ...]) -> int:
    """Rows the bundle's Parquet files of ``tables`` declare in their footers (other formats: 0)."""
    rows = 0
    for table in tables:
        for path in bundle.files.get(table, []):
            if path.suffix == ".parquet":
                try:
                    rows += pq.ParquetFile(path).metadata.num_rows
                except (OSError, pa.ArrowException):
                    pass  # validation reports the unreadable file
    return rows


def _connector(store: ColumnarStore, settings: Settings):  # noqa: ANN202 - a DuckDB connection factory
    return lambda: store.connect(memory_limit=settings.ingest.memory_limit)


def refresh_partials(store: ColumnarStore, settings: Settings) -> list[str]:
    """Compute again the partials that are missing or depended on a delivery no longer live.

    Returns the ingest ids refreshed. After a withdrawal (or a redelivery, or a killed run) this
    brings every live delivery's partials to what a clean ingest of the live ones would give.
    """
    refreshed: list[str] = []
    for delivery in store.entries():
        live = {e.seq for e in store.entries()}
        stale = any(seq not in live for seq in delivery.suppressed_by)
        if not stale and store.has_partials(delivery, list(PARTIAL_SCHEMAS)):
            continue
        files = {t: store.table_files(t, [delivery]) for t in INPUT_TABLES}
        result = compute_partials(store, files, delivery.seq, _aggregator(store, settings), _connector(store, settings),
                                  {t: staged_schema(t) for t in INPUT_TABLES})
        store.replace_partial(delivery, result.tables, result.suppressed_by)
        refreshed.append(delivery.ingest_id)
    return refreshed
