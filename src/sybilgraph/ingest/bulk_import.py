"""Empty database: load the graph with Neo4j's offline bulk importer instead of transactions.

Method: ``neo4j-admin database import full`` (Neo4j Operations Manual, "Import") writes the store
files directly from CSV, bypassing transactions, locks and indexes; it is the tool Neo4j
documents for an initial load. The state tables (``state.py``) become one CSV per node label and
per relationship type, the local Neo4j is stopped, the importer (``org.neo4j.cli.AdminTool``
from the jars the launcher's Maven build already holds) writes the ``neo4j`` database, the
server starts on the imported store, and constraints and indexes are created afterwards.

The graph is the very one the transactional path writes (``cypher/ingest/merge_*``): the same
labels, keys, relationship types and properties, checked by a test comparing both graphs'
digests. Two rules make that hold: timestamps are written as UTC datetimes with milliseconds,
and an empty list is no property at all (the importer cannot store an empty array; the
transactional path leaves it out too, ``graph_rows``).

Only for the local launcher's database, only when it holds nothing but leases, the API's data
version and the record of the state it holds (``Lock``, ``DataVersion``, ``IngestState``), and only for a writer that took the ingest lease itself (not
the scheduler, whose job state lives in the store): a server named by ``NEO4J_URI`` cannot be
stopped, and its store is not on this machine; those cases take the transactional path, and say so.
The server is down for the import: clients connected to it (the API) see it restart.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sybilgraph.db.launcher import LocalNeo4j
from sybilgraph.errors import SybilgraphError
from sybilgraph.identifiers import KINDS, IdentifierKind
from sybilgraph.ingest.graph_writer import graph_rows
from sybilgraph.settings import Settings
from sybilgraph.timing import timed

__all__ = ["ARRAY_DELIMITER", "BulkImportError", "ImportFile", "import_files", "run_import"]

log = logging.getLogger("sybilgraph.ingest")

# The importer splits array fields on this character; it occurs in no value we write (checked).
ARRAY_DELIMITER = "\x1f"


class BulkImportError(SybilgraphError):
    """The bulk importer failed; the database is started again, empty, for a transactional load."""


@dataclass(frozen=True)
class ImportFile:
    kind: str  # "nodes" or "relationships"
    name: str  # label or relationship type
    path: Path
    rows: int


# -- CSV files -------------------------------------------------------------------------------------
_MS_PER_DAY = 86_400_000
# "YYYY-MM-DDTHH:MM:SS.mmmZ": (first byte, width) of each number; the separators are fixed.
_DATETIME_TEMPLATE = b"0000-00-00T00:00:00.000Z"
_DATETIME_FIELDS = ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2), (20, 3))


def _datetime(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Epoch milliseconds as the ISO text the importer parses, UTC with milliseconds.

    The digits are laid out with numpy into one fixed-width buffer: Arrow's ``strftime`` took
    2.9 s for the 3.3M links of scale 1.0 (two of their columns were most of writing the CSV
    files), this 0.25 s. Years outside 1000-9999 take ``strftime``, whose text this equals.
    """
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    ms_array = pc.cast(pc.cast(arr, pa.timestamp("ms", tz="UTC")), pa.int64())
    ms = ms_array.fill_null(0).to_numpy(zero_copy_only=False)
    days, time_of_day = np.divmod(ms, _MS_PER_DAY)
    year, month, day = _civil_from_days(days)
    if len(ms) and (year.min() < 1000 or year.max() > 9999):
        return _strftime(arr)
    time_of_day = time_of_day.astype(np.int32)
    numbers = (year.astype(np.int32), month.astype(np.int32), day.astype(np.int32), time_of_day // 3_600_000,
               time_of_day // 60_000 % 60, time_of_day // 1000 % 60, time_of_day % 1000)
    width = len(_DATETIME_TEMPLATE)
    # One row per character (contiguous writes), transposed once into one string per row.
    text = np.repeat(np.frombuffer(_DATETIME_TEMPLATE, np.uint8)[:, None], len(ms), axis=1)
    for (start, digits), values in zip(_DATETIME_FIELDS, numbers):
        for position in range(start + digits - 1, start - 1, -1):
            values, digit = np.divmod(values, 10)
            text[position] += digit.astype(np.uint8)
    text = np.ascontiguousarray(text.T)
    offsets = np.arange(0, width * (len(ms) + 1), width, dtype=np.int64)
    out = pa.LargeStringArray.from_buffers(len(ms), pa.py_buffer(offsets), pa.py_buffer(text))
    if ms_array.null_count:
        out = pc.if_else(pc.is_valid(ms_array), out, pa.scalar(None, pa.large_string()))
    return out


def _civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01 in the proleptic Gregorian calendar.

    Method: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms" (civil_from_days), in numpy.
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _strftime(col: pa.Array) -> pa.Array:
    ts = pc.cast(col, pa.timestamp("ms", tz="UTC"))
    return pc.strftime(ts, "%Y-%m-%dT%H:%M:%SZ")


def _array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(col.type.value_type):
        col = pc.cast(col, pa.list_(pa.string()))  # numbers: their text never holds the delimiter
    elif pc.any(pc.fill_null(pc.match_substring(pc.list_flatten(col), ARRAY_DELIMITER), False)).as_py():
        raise BulkImportError("a list value holds the importer's array delimiter (U+001F)")
    joined = pc.binary_join(col, ARRAY_DELIMITER)
    return pc.if_else(pc.equal(pc.list_value_length(col), 0), pa.scalar(None, pa.string()), joined)


def _write(path: Path, header: list[str], columns: list[pa.Array]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns, names=[f"c{i}" for i in range(len(columns))])
    with open(path, "wb") as f:
        f.write((",".join(header) + "\n").encode())
        pacsv.write_csv(table, f, write_options=pacsv.WriteOptions(include_header=False))
    return table.num_rows


# Property columns per graph table: (state column, header type); a type ending in [] is an array.
_ACCOUNT_PROPS: list[tuple[str, str]] = [
    ("created_at", "datetime"), ("email_domain", "string"), ("country", "string"), ("signup_ip", "string"),
    ("status", "string"), ("n_interactions", "long"), ("input_tokens", "long"), ("output_tokens", "long"),
    ("first_interaction", "datetime"), ("last_interaction", "datetime"), ("hour_hist", "long[]"),
    ("category_names", "string[]"), ("category_counts", "long[]"), ("model_names", "string[]"),
    ("model_counts", "long[]"), ("n_api_key_requests", "long"), ("active_days", "long"), ("n_sessions", "long"),
    ("n_ips", "long"), ("n_devices", "long"), ("n_templates", "long"), ("n_tls", "long"), ("n_cards", "long"),
    ("n_user_agents", "long"), ("n_api_keys", "long"), ("n_residential", "long"), ("n_mobile", "long"),
    ("n_datacenter", "long"), ("n_vpn", "long"), ("n_proxy", "long"), ("n_education", "long"),
    ("n_corporate", "long"),
]
_IDENTIFIER_PROPS: dict[str, list[tuple[str, str]]] = {
    "card": [("bin", "string"), ("last4", "string"), ("issuer_country", "string")],
    "ip": [("owner", "string"), ("asn", "long"), ("net_kind", "string")],
}
_LINK_PROPS = [("count", "long"), ("first_seen", "datetime"), ("last_seen", "datetime")]


def _columns(table: pa.Table, props: list[tuple[str, str]]) -> tuple[list[str], list[pa.Array]]:
    header, columns = [], []
    for column, kind in props:
        col = table.column(column)
        if kind == "datetime":
            col = _datetime(col)
        elif kind.endswith("[]"):
            col = _array(col)
        header.append(f"{column}:{kind}")
        columns.append(col)
    return header, columns


@dataclass(frozen=True)
class _Csv:
    """One file to write: its header and columns are computed by ``build`` in a worker thread."""

    kind: str
    name: str
    rows: int  # of the source table: what the files are scheduled by
    build: Callable[[], tuple[list[str], list[pa.Array]]]


def import_files(tables: dict[str, pa.Table], directory: Path, threads: int | None = None) -> list[ImportFile]:
    """One CSV per node label and relationship type of the graph ``tables`` describe.

    The files are converted and written side by side (Arrow's conversions and CSV writer
    release the GIL), the largest first so the last one to finish is a small one.
    """
    shutil.rmtree(directory, ignore_errors=True)
    jobs = _csv_jobs(tables)

    def write(job: _Csv) -> ImportFile:
        header, columns = job.build()
        path = directory / job.kind / f"{job.name}.csv"
        return ImportFile(job.kind, job.name, path, _write(path, header, columns))

    largest_first = sorted(range(len(jobs)), key=lambda i: -jobs[i].rows)
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 2) as pool:
        futures = {i: pool.submit(write, jobs[i]) for i in largest_first}
        written = [futures[i].result() for i in range(len(jobs))]
    return [f for f in written if f.rows]


def _csv_jobs(tables: dict[str, pa.Table]) -> list[_Csv]:
    """The files of the graph, in the order the importer is given them."""
    jobs: list[_Csv] = []

    def add(kind: str, name: str, rows: int, build: Callable[[], tuple[list[str], list[pa.Array]]]) -> None:
        jobs.append(_Csv(kind, name, rows, build))

    accounts = tables["accounts"]

    def account_nodes() -> tuple[list[str], list[pa.Array]]:
        rows = graph_rows(accounts)
        header, columns = _columns(rows, _ACCOUNT_PROPS)
        return ["account_id:ID(Account)", *header], [rows.column("account_id"), *columns]

    # An account row (33 columns, 5 of them lists) costs about what ten link rows cost to write.
    add("nodes", "Account", accounts.num_rows * 10, account_nodes)

    identifiers, links = tables["identifiers"], tables["links"]
    link_rows = {row["values"]: row["counts"] for row in pc.value_counts(links["kind"]).to_pylist()}
    for kind in KINDS.values():
        add("nodes", kind.label, 0, partial(_identifier_nodes, identifiers, kind))
        add("relationships", kind.rel, link_rows.get(kind.name, 0), partial(_links, links, kind))

    subnets = tables["ip_subnets"]
    add("relationships", "IN_SUBNET", subnets.num_rows,
        lambda: ([":START_ID(IP)", ":END_ID(Subnet)"], [subnets.column("ip"), subnets.column("subnet")]))

    def organisation_nodes() -> tuple[list[str], list[pa.Array]]:
        orgs = graph_rows(tables["organisations"])
        header, columns = _columns(orgs, [("name", "string"), ("country", "string"), ("kind", "string"),
                                          ("domains", "string[]")])
        return (["org_id:ID(Organisation)", *header, "confirmed:boolean"],
                [orgs.column("org_id"), *columns, pa.array([True] * orgs.num_rows, pa.bool_())])

    add("nodes", "Organisation", 0, organisation_nodes)

    labels = tables["labels"]

    def label_nodes() -> tuple[list[str], list[pa.Array]]:
        names = pc.unique(labels.column("operator_label").combine_chunks()) if labels.num_rows else pa.array([], pa.string())
        return ["name:ID(Label)"], [names]

    def label_links() -> tuple[list[str], list[pa.Array]]:
        header, columns = _columns(labels, [("source", "string"), ("organisation", "string")])
        return ([":START_ID(Account)", ":END_ID(Label)", *header],
                [labels.column("account_id"), labels.column("operator_label"), *columns])

    add("nodes", "Label", 0, label_nodes)
    add("relationships", "HAS_LABEL", labels.num_rows, label_links)
    return jobs


def _identifier_nodes(identifiers: pa.Table, kind: IdentifierKind) -> tuple[list[str], list[pa.Array]]:
    nodes = identifiers.filter(pc.equal(identifiers["kind"], kind.name))
    header, columns = _columns(nodes, [("n_accounts", "long"), ("hub", "boolean"), *_IDENTIFIER_PROPS.get(kind.name, [])])
    return [f"{kind.key}:ID({kind.label})", *header], [nodes.column("value"), *columns]


def _links(links: pa.Table, kind: IdentifierKind) -> tuple[list[str], list[pa.Array]]:
    rels = links.filter(pc.equal(links["kind"], kind.name))
    header, columns = _columns(rels, _LINK_PROPS)
    return ([":START_ID(Account)", f":END_ID({kind.label})", *header],
            [rels.column("account_id"), rels.column("value"), *columns])


# -- the importer ---------------------------------------------------------------------------------
def run_import(settings: Settings, files: list[ImportFile], work: Path, threads: int | None = None,
               imported: Callable[[], None] | None = None, timings: dict[str, float] | None = None) -> float:
    """Import ``files`` as the local Neo4j's ``neo4j`` database (the server stops meanwhile), start it; seconds taken.

    ``imported``: called once the new store is in place, before the server starts on it (work
    for the caller's threads while the JVM starts). ``timings``: gets ``bulk_import.importer``
    (the server stops meanwhile) and ``bulk_import.start``.

    The importer writes into a home of its own under ``work``; the new store replaces the live
    one by renames once it is complete, so a run killed during the import leaves the live store
    as it was (empty), and one killed between the renames leaves no ``neo4j`` store, which the
    server creates empty at start: either way the next ingest finds an empty graph and loads it.
    """
    local = LocalNeo4j(settings)
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    staging = work / "neo4j-home"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        cmd = [
            local._java(),  # the launcher's own rule for finding Java 17
            "-Xmx1g",
            "-cp",
            str(local.lib_dir / "*"),
            "org.neo4j.cli.AdminTool",
            "database", "import", "full", "neo4j",
            "--overwrite-destination=true",
            "--id-type=string",
            f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}",
            f"--threads={threads or max(1, os.cpu_count() or 1)}",
            "--max-off-heap-memory=2G",
            f"--report-file={work / 'import.report'}",
            *(f"--{f.kind}={f.name}={f.path}" for f in files),
        ]
        # The live configuration, but this home's data directory (server.directories.data is relative).
        env = {**os.environ, "NEO4J_HOME": str(staging), "NEO4J_CONF": str(local.home)}
        # The importer writes a home of its own, so the server stops while it runs (seconds saved).
        # From the stop until the new store is in place no other command may start the server
        # (``LocalNeo4j.stopped``): one started meanwhile would run on the old store, renamed away
        # under it, and take this ingest's writes with it.
        with ExitStack() as server_down:
            with timed(timings, "bulk_import.importer"):
                proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                try:
                    server_down.enter_context(local.stopped())
                    output, _ = proc.communicate()
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
            (work / "import.log").write_text(output)
            if proc.returncode != 0:
                tail = "\n".join(output.strip().splitlines()[-15:])
                raise BulkImportError(f"neo4j-admin database import failed (exit {proc.returncode}):\n{tail}")
            for part in ("databases", "transactions"):
                live = local.home / "data" / part / "neo4j"
                shutil.rmtree(live, ignore_errors=True)
                live.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / "data" / part / "neo4j", live)
            if imported is not None:
                imported()
    finally:
        with timed(timings, "bulk_import.start"):
            local.start()
        shutil.rmtree(staging, ignore_errors=True)
    return time.perf_counter() - t0

