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

Only for the local launcher's database, only when it holds nothing but leases and the API's data
version (``Lock``, ``DataVersion``), and only for a writer that took the ingest lease itself (not
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
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sybilgraph.db.launcher import LocalNeo4j
from sybilgraph.errors import SybilgraphError
from sybilgraph.identifiers import KINDS
from sybilgraph.ingest.graph_writer import graph_rows
from sybilgraph.settings import Settings

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
def _datetime(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    ts = pc.cast(col, pa.timestamp("ms", tz="UTC"))
    return pc.strftime(ts, "%Y-%m-%dT%H:%M:%SZ")


def _array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(col.type.value_type):
        col = pc.cast(col, pa.list_(pa.string()))
    if pc.any(pc.fill_null(pc.match_substring(pc.list_flatten(col), ARRAY_DELIMITER), False)).as_py():
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


def import_files(tables: dict[str, pa.Table], directory: Path) -> list[ImportFile]:
    """One CSV per node label and relationship type of the graph ``tables`` describe."""
    shutil.rmtree(directory, ignore_errors=True)
    files: list[ImportFile] = []

    def add(kind: str, name: str, header: list[str], columns: list[pa.Array]) -> None:
        path = directory / kind / f"{name}.csv"
        rows = _write(path, header, columns)
        if rows:
            files.append(ImportFile(kind, name, path, rows))

    accounts = graph_rows(tables["accounts"])
    header, columns = _columns(accounts, _ACCOUNT_PROPS)
    add("nodes", "Account", ["account_id:ID(Account)", *header], [accounts.column("account_id"), *columns])

    identifiers, links = tables["identifiers"], tables["links"]
    for kind in KINDS.values():
        nodes = identifiers.filter(pc.equal(identifiers["kind"], kind.name))
        header, columns = _columns(nodes, [("n_accounts", "long"), ("hub", "boolean"), *_IDENTIFIER_PROPS.get(kind.name, [])])
        add("nodes", kind.label, [f"{kind.key}:ID({kind.label})", *header], [nodes.column("value"), *columns])
        rels = links.filter(pc.equal(links["kind"], kind.name))
        header, columns = _columns(rels, _LINK_PROPS)
        add("relationships", kind.rel, [":START_ID(Account)", f":END_ID({kind.label})", *header],
            [rels.column("account_id"), rels.column("value"), *columns])

    subnets = tables["ip_subnets"]
    add("relationships", "IN_SUBNET", [":START_ID(IP)", ":END_ID(Subnet)"], [subnets.column("ip"), subnets.column("subnet")])

    orgs = graph_rows(tables["organisations"])
    header, columns = _columns(orgs, [("name", "string"), ("country", "string"), ("kind", "string"), ("domains", "string[]")])
    add("nodes", "Organisation", ["org_id:ID(Organisation)", *header, "confirmed:boolean"],
        [orgs.column("org_id"), *columns, pa.array([True] * orgs.num_rows, pa.bool_())])

    labels = tables["labels"]
    names = pc.unique(labels.column("operator_label").combine_chunks()) if labels.num_rows else pa.array([], pa.string())
    add("nodes", "Label", ["name:ID(Label)"], [names])
    header, columns = _columns(labels, [("source", "string"), ("organisation", "string")])
    add("relationships", "HAS_LABEL", [":START_ID(Account)", ":END_ID(Label)", *header],
        [labels.column("account_id"), labels.column("operator_label"), *columns])
    return files


# -- the importer ---------------------------------------------------------------------------------
def run_import(settings: Settings, files: list[ImportFile], work: Path, threads: int | None = None) -> float:
    """Import ``files`` as the local Neo4j's ``neo4j`` database (the server stops meanwhile), start it; seconds taken.

    The importer writes into a home of its own under ``work``; the new store replaces the live
    one by renames once it is complete, so a run killed during the import leaves the live store
    as it was (empty), and one killed between the renames leaves no ``neo4j`` store, which the
    server creates empty at start: either way the next ingest finds an empty graph and loads it.
    """
    local = LocalNeo4j(settings)
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
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            local.stop()
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
    finally:
        local.start()
        shutil.rmtree(staging, ignore_errors=True)
    return time.perf_counter() - t0

