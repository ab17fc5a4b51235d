"""``sybilgraph ingest BUNDLE``: validate, stage, aggregate, write the graph.

Phases:
1. *validate*: each contract table is read in streamed batches, bad rows go to quarantine,
   good rows to the columnar store's staging area; the staged bundle is committed atomically.
2. *aggregate*: DuckDB (or the Spark job, ``SYBILGRAPH_AGGREGATOR``; ingest/aggregators.py)
   computes the new bundle's partial aggregates once; ``combine.py`` folds every bundle's
   partials into the state tables (``state.py``): accounts, identifiers, links, labels, ...
3. *write*: only rows that differ from what the graph already holds are written to Neo4j, in
   batched managed transactions; the written state is saved last (``state.read_state``).

A run killed at any point and started again converges on the state of a clean run: staging is
redone or reused whole, and graph rows are absolute values written idempotently.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from sybilgraph.contract import TABLE_ORDER, TABLES
from sybilgraph.db.session import Database
from sybilgraph.errors import BundleError, TableError
from sybilgraph.ingest import aggregate as agg
from sybilgraph.ingest.aggregators import INPUT_TABLES, PARTIAL_SCHEMAS, AggregateInput, make_aggregator
from sybilgraph.ingest.columnar import PARQUET_OPTIONS, BundleEntry, ColumnarStore, StagedTable
from sybilgraph.ingest.combine import VERSIONED_TABLES, CombineInput, combine
from sybilgraph.ingest.graph_writer import GraphWriter
from sybilgraph.ingest.readers import (
    NORMALIZED_SCHEMAS,
    QUARANTINE_SCHEMA,
    find_table_files,
    read_table,
    unknown_entries,
)
from sybilgraph.ingest.report import IngestReport, TableReport
from sybilgraph.ingest.state import GRAPH_TABLES, StateDir
from sybilgraph.progress import NullReporter, Reporter
from sybilgraph.settings import Settings
from sybilgraph.timing import timed

__all__ = ["aggregate_input", "bundle_digest", "combine_input", "ingest_bundle"]

log = logging.getLogger("sybilgraph.ingest")

# Tables whose rows are versioned by ingest order (a later bundle's row wins).
SEQUENCED_TABLES = frozenset({"accounts", "payment_methods", "labels", "organisations", "ip_owners"})


def bundle_digest(bundle_dir: Path) -> str:
    """Content hash of the bundle's contract files: the same bundle always has the same id."""
    h = hashlib.sha256()
    for table in TABLE_ORDER:
        for path in find_table_files(bundle_dir, table):
            h.update(str(path.relative_to(bundle_dir)).encode())
            with open(path, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()[:24]


def ingest_bundle(
    bundle_dir: Path,
    settings: Settings,
    db: Database,
    reporter: Reporter | None = None,
    full_write: bool = False,
) -> IngestReport:
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle directory not found: {bundle_dir}")
    if not find_table_files(bundle_dir, "accounts"):
        raise BundleError(f"{bundle_dir}: no accounts table (accounts.csv, accounts.parquet, ...); it is required")
    reporter = reporter or NullReporter()
    store = ColumnarStore(settings.columnar_dir)
    ingest_id = bundle_digest(bundle_dir)
    entry = store.entry(ingest_id)
    seq = entry.seq if entry else store.next_seq()
    run_dir = settings.runs_dir / "ingest" / ingest_id
    report = IngestReport(ingest_id=ingest_id, bundle=str(bundle_dir), seq=seq)
    report.report_file = str(run_dir / "report.json")
    for name in unknown_entries(bundle_dir):
        report.warnings.append(f"{bundle_dir / name}: not a contract table; ignored")

    with timed(report.timings_s, "schema"):
        db.apply_schema()

    previous = _previous_report(run_dir) if store.is_committed(ingest_id) else None
    if previous is not None:
        report.tables, report.reused_staging = previous.tables, True
        report.quarantine_file = previous.quarantine_file
    else:
        with timed(report.timings_s, "validate"):
            _stage_bundle(bundle_dir, store, ingest_id, seq, run_dir, report, reporter, settings)
        store.commit(BundleEntry(ingest_id=ingest_id, seq=seq, bundle=str(bundle_dir)))
    report.write(run_dir / "report.json")  # staging is durable from here on

    with timed(report.timings_s, "aggregate"):
        tables = _aggregate(store, settings)
    with timed(report.timings_s, "write_graph"):
        report.graph_writes = _write_graph(db, store, tables, reporter, settings, full_write)
    db.write(
        "ingest/merge_ingest_run",
        ingest_id=ingest_id,
        bundle=str(bundle_dir),
        seq=seq,
        rows_loaded=report.rows_loaded,
        rows_quarantined=report.rows_quarantined,
        status=report.status,
    )
    report.write(run_dir / "report.json")
    return report


# -- phase 1: validate and stage -----------------------------------------------------------------
def _stage_bundle(
    bundle_dir: Path,
    store: ColumnarStore,
    ingest_id: str,
    seq: int,
    run_dir: Path,
    report: IngestReport,
    reporter: Reporter,
    settings: Settings,
) -> None:
    staging = store.staging(ingest_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    quarantine_path = run_dir / "quarantine.csv"
    report.quarantine_file = str(quarantine_path)
    known_before = _known_accounts(store)
    bundle_accounts: list[pa.Array] = []
    with _QuarantineFile(quarantine_path) as quarantine:
        for table in TABLE_ORDER:
            files = _files_or_error(bundle_dir, table, report)
            if not files:
                continue
            tr = report.tables.setdefault(table, TableReport(table=table))
            tr.files = [str(f) for f in files]
            known = None
            if TABLES[table].references_accounts:
                known = pa.concat_arrays([known_before, *bundle_accounts]) if bundle_accounts else known_before
            schema = _staged_schema(table)
            staged = StagedTable(staging / table, schema)
            try:
                with reporter.phase(f"validate {table}") as phase:
                    for vb in read_table(bundle_dir, table, known_accounts=known, batch_rows=settings.ingest.batch_size * 10):
                        good = _with_seq(vb.good, seq) if table in SEQUENCED_TABLES else vb.good
                        staged.write(pa.RecordBatch.from_arrays(good.columns, schema=schema) if good.num_rows else good)
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
                tr.error, tr.rows_loaded = str(e), 0
                if table == "accounts":
                    bundle_accounts.clear()
                log.error("%s", e)


def _files_or_error(bundle_dir: Path, table: str, report: IngestReport) -> list[Path]:
    try:
        return find_table_files(bundle_dir, table)
    except TableError as e:
        report.tables[table] = TableReport(table=table, error=str(e))
        return []


def _staged_schema(table: str) -> pa.Schema:
    schema = NORMALIZED_SCHEMAS[table]
    if table in SEQUENCED_TABLES:
        schema = schema.append(pa.field("_ingest_seq", pa.int64()))
    return schema


def _with_seq(batch: pa.RecordBatch, seq: int) -> pa.RecordBatch:
    return batch.append_column("_ingest_seq", pa.array([seq] * batch.num_rows, pa.int64()))


def _known_accounts(store: ColumnarStore) -> pa.Array:
    glob = store.table_glob("accounts")
    if glob is None:
        return pa.array([], pa.string())
    con = store.connect()
    try:
        return con.read_parquet(glob).aggregate("account_id", "account_id").to_arrow_table().column(0).combine_chunks()
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


def _previous_report(run_dir: Path) -> IngestReport | None:
    path = run_dir / "report.json"
    try:
        return IngestReport.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


# -- phase 2: aggregate --------------------------------------------------------------------------
def aggregate_input(store: ColumnarStore, entries: list[BundleEntry] | None = None) -> AggregateInput:
    """What a partial aggregation reads: the staged link tables of the given (default: all) bundles."""
    return AggregateInput(
        tables={table: store.table_files(table, entries) or None for table in INPUT_TABLES},
        schemas={table: _staged_schema(table) for table in INPUT_TABLES},
    )


def combine_input(store: ColumnarStore, settings: Settings) -> CombineInput:
    """What combining reads: every committed bundle's partials and versioned staged tables."""
    return CombineInput(
        partials={name: store.partial_files(name) for name in PARTIAL_SCHEMAS},
        staged={table: store.table_files(table) for table in VERSIONED_TABLES},
        staged_schemas={table: _staged_schema(table) for table in VERSIONED_TABLES},
        link_max_share=settings.ingest.link_max_share,
        link_hub_min_accounts=settings.ingest.link_hub_min_accounts,
    )


def _aggregate(store: ColumnarStore, settings: Settings) -> dict[str, pa.Table]:
    aggregator = make_aggregator(
        settings.ingest.aggregator,
        lambda: store.connect(memory_limit=settings.ingest.memory_limit),
        spark_master=settings.ingest.spark_master,
        work_dir=store.root / "spark",
        java_home=settings.java_home,
        spark_conf=settings.ingest.spark_conf,
    )
    # Partials are computed once per bundle (a killed run's missing ones on the next run).
    for entry in store.committed():
        if len(store.partial_files("pairs", [entry])) < 1 or len(store.partial_files("activity", [entry])) < 1:
            store.save_partial(entry.ingest_id, aggregator.aggregate(aggregate_input(store, [entry])))
    con = store.connect(memory_limit=settings.ingest.memory_limit)
    try:
        return combine(con, combine_input(store, settings))
    finally:
        con.close()


# -- phase 3: write the graph --------------------------------------------------------------------
def _write_graph(
    db: Database,
    store: ColumnarStore,
    tables: dict[str, pa.Table],
    reporter: Reporter,
    settings: Settings,
    full_write: bool,
) -> dict[str, int]:
    writer = GraphWriter(db, batch_size=settings.ingest.batch_size // 2)
    state = StateDir(store.state_dir)
    deltas = {name: _delta(store, state, name, tables[name], full_write) for name in GRAPH_TABLES}
    written: dict[str, int] = {}
    with reporter.phase("write graph", total=sum(d.num_rows for d in deltas.values())) as phase:
        for name in GRAPH_TABLES:
            written[name] = getattr(writer, name)(deltas[name], phase)
    # Saved only once the graph holds it: a run killed before this point rewrites the rows.
    state.write(tables, PARQUET_OPTIONS)
    return written


def _delta(store: ColumnarStore, state: StateDir, name: str, new: pa.Table, full_write: bool) -> pa.Table:
    old_path = state.table_path(name)
    if full_write or old_path is None:
        return new
    con = store.connect()
    try:
        con.register("new_rows", new)
        con.read_parquet(str(old_path)).create_view("old_rows")
        return con.sql(agg.delta_sql("new_rows", "old_rows")).to_arrow_table()
    finally:
        con.close()
