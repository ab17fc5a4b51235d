"""The columnar store: every validated row of every live delivery, as Parquet on disk.

Raw interactions never become Neo4j nodes; they live here for aggregation, drill-down and
timelines. Layout under ``$SYBILGRAPH_HOME/columnar``::

    manifest.json                           the live deliveries (in ingest order) and next_seq
    bundles/<ingest_id>/<table>/part-*.parquet     a delivery's validated rows
    bundles/<ingest_id>/<partial>/<name>.parquet   its partial aggregates (aggregate.py)
    staging/<ingest_id>/...                 a delivery being written; moved into bundles/ at once
    graph_state/CURRENT, gen-*/<name>.parquet      what the graph holds (state.py; with overlays)

The manifest is the one authority on what is live. A delivery is identified by its bundle id
(``bundle.json``'s ``bundle_id``, else the directory name); each delivery gets a sequence number
that is taken (and persisted) *before* it is staged, so a number is never used twice even when a
run is killed, and its directory is named after it (``d000007``). Committing a delivery is one
atomic manifest write: a redelivery of a bundle id replaces the earlier delivery there, a
withdrawal removes it; directories the manifest does not name (a kill's leftovers, replaced or
withdrawn deliveries) are never read and are removed by ``recover``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph import durable

__all__ = ["ColumnarStore", "Delivery", "BundleEntry", "StagedTable", "PARQUET_OPTIONS"]

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1}
MANIFEST_VERSION = 2


@dataclass(frozen=True)
class Delivery:
    """One live delivery of a bundle."""

    bundle_id: str
    seq: int
    ingest_id: str  # its directory under bundles/: "d" + seq
    digest: str  # content hash of its contract files: the same content is the same delivery
    bundle: str  # where it was read from
    partial: str = "partial-1"  # the directory of its current partial aggregates
    # Sequence numbers of earlier live deliveries that already held some of its interaction or
    # session ids (those rows count there, not here): withdrawing one recomputes this partial.
    suppressed_by: tuple[int, ...] = field(default_factory=tuple)
    # For the people who deliver and withdraw (``inventory.py``): bundle.json's "source" and
    # "produced_at" as written there, and when the delivery became live (UTC, ISO 8601). None
    # where not given, and in manifests written before these were kept.
    source: str | None = None
    produced_at: str | None = None
    committed_at: str | None = None

    @staticmethod
    def key(seq: int) -> str:
        return f"d{seq:06d}"


BundleEntry = Delivery  # the name earlier callers used


class StagedTable:
    """Writes one table's good rows into staging as Parquet parts of bounded size.

    Parts are encoded on background threads while the caller validates the next batches:
    Parquet encoding was 55% of validation's time at scale 1.0 (17 of 31 s, one thread), and
    pyarrow releases the GIL while it encodes. Each part is one file written by one task, so
    every file holds its rows in delivery order, as before (row positions decide which copy of
    a repeated id counts, ``partials.py``). At most ``workers`` parts are being written and one
    filling: memory stays within ``workers + 1`` parts.
    """

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_part: int = 2_000_000, workers: int = 2) -> None:
        self.directory = directory
        self.schema = schema
        self.rows_per_part = rows_per_part
        self.rows = 0
        self._part = 0
        self._filling: list[pa.RecordBatch] = []
        self._rows_in_part = 0
        self._workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="staging")
        self._pending: list[Future[None]] = []  # parts being written
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._filling.append(batch)
        self._rows_in_part += batch.num_rows
        self.rows += batch.num_rows
        if self._rows_in_part >= self.rows_per_part:
            self._flush()

    def _flush(self) -> None:
        if not self._filling:
            return
        # Back-pressure: once ``workers`` parts are in flight, sleep until one is written (its
        # failure raised here). Only unfinished parts are waited on: ``wait`` returns at once
        # when any future it is given is already done, which would make this loop spin.
        while len(self._pending) >= self._workers:
            done, running = wait(self._pending, return_when=FIRST_COMPLETED)
            for written in done:
                written.result()
            self._pending = list(running)
        path = self.directory / f"part-{self._part:05d}.parquet"
        self._pending.append(self._pool.submit(_write_part, path, self.schema, self._filling))
        self._part += 1
        self._filling = []
        self._rows_in_part = 0

    def close(self) -> None:
        """Every part written (the first failure raised)."""
        try:
            self._flush()
            for f in self._pending:
                f.result()
        finally:
            self._pending = []
            self._pool.shutdown(wait=True)

    def discard(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the rows are discarded anyway
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


def _write_part(path: Path, schema: pa.Schema, batches: list[pa.RecordBatch]) -> None:
    with pq.ParquetWriter(path, schema, **PARQUET_OPTIONS) as writer:
        for batch in batches:
            writer.write_batch(batch)


class ColumnarStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bundles_dir = root / "bundles"
        self.staging_dir = root / "staging"
        self.state_dir = root / "graph_state"
        self.manifest_path = root / "manifest.json"

    # -- manifest ----------------------------------------------------------------------------
    def _read_manifest(self) -> tuple[list[Delivery], int]:
        entries, next_seq, _ = self._read()
        return entries, next_seq

    def _read(self) -> tuple[list[Delivery], int, int]:
        """(live deliveries, next sequence number, revision)."""
        if not self.manifest_path.is_file():
            return [], 1, 0
        data = json.loads(self.manifest_path.read_text())
        if "deliveries" not in data:  # version 1: content-hash ids, no next_seq
            entries = [Delivery(bundle_id=e["ingest_id"], seq=e["seq"], ingest_id=e["ingest_id"], digest=e["ingest_id"],
                                bundle=e["bundle"], partial="partial") for e in data.get("bundles", [])]
            return entries, max((e.seq for e in entries), default=0) + 1, -1
        # Keys this version does not know are left out: a manifest written by a later version
        # (a scheduler not yet upgraded beside a newer CLI) still reads.
        known = {f.name for f in fields(Delivery)}
        entries = [Delivery(**{**{k: v for k, v in e.items() if k in known}, "suppressed_by": tuple(e.get("suppressed_by", ()))})
                   for e in data["deliveries"]]
        return sorted(entries, key=lambda e: e.seq), int(data["next_seq"]), int(data.get("revision", 0))

    def _write_manifest(self, entries: list[Delivery], next_seq: int, changed: bool = True) -> None:
        """``changed``: what is live changed (not only the next sequence number)."""
        _, _, revision = self._read()
        self.root.mkdir(parents=True, exist_ok=True)
        body = {"version": MANIFEST_VERSION, "next_seq": next_seq, "revision": revision + 1 if changed else revision,
                "deliveries": [asdict(e) for e in sorted(entries, key=lambda e: e.seq)]}
        durable.write_text(self.manifest_path, json.dumps(body, indent=1))

    def revision(self) -> int:
        """Grows with every change of what is live (commit, withdrawal, new partials)."""
        return self._read()[2]

    def entries(self) -> list[Delivery]:
        """The live deliveries, in ingest order."""
        return self._read_manifest()[0]

    def delivery(self, bundle_id: str) -> Delivery | None:
        return next((e for e in self.entries() if e.bundle_id == bundle_id), None)

    def entry(self, ingest_id: str) -> Delivery | None:
        return next((e for e in self.entries() if e.ingest_id == ingest_id), None)

    def allocate_seq(self) -> int:
        """A sequence number nobody had: persisted as taken before the caller stages anything."""
        entries, next_seq = self._read_manifest()
        seq = max(next_seq, max((e.seq for e in entries), default=0) + 1)
        self._write_manifest(entries, seq + 1, changed=False)
        return seq

    # -- staging, commit, withdrawal ---------------------------------------------------------
    def recover(self) -> None:
        """Remove what a killed run left: staging areas and directories the manifest does not name."""
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        live = {e.ingest_id for e in self.entries()}
        if self.bundles_dir.is_dir():
            for path in self.bundles_dir.iterdir():
                if path.name not in live:
                    shutil.rmtree(path, ignore_errors=True)

    def staging(self, ingest_id: str) -> Path:
        path = self.staging_dir / ingest_id
        shutil.rmtree(path, ignore_errors=True)  # leftovers of a killed run
        path.mkdir(parents=True)
        return path

    def commit(self, delivery: Delivery) -> Delivery | None:
        """Move a staged delivery into place and make it live; the delivery it replaces, if any.

        The manifest write is the commit point: before it the store is as it was, after it the
        new delivery is live and the replaced one gone (its directory is removed afterwards).
        """
        delivery = replace(delivery, committed_at=datetime.now(UTC).isoformat(timespec="seconds"))
        staged = self.staging_dir / delivery.ingest_id
        target = self.bundles_dir / delivery.ingest_id
        self.bundles_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)  # never live: its number was taken and not committed
        durable.replace(staged, target)  # the Parquet parts reach the disk before the rename
        entries, next_seq = self._read_manifest()
        replaced = next((e for e in entries if e.bundle_id == delivery.bundle_id), None)
        others = [e for e in entries if e.bundle_id != delivery.bundle_id]
        self._write_manifest([*others, delivery], max(next_seq, delivery.seq + 1))
        if replaced is not None:
            shutil.rmtree(self.bundles_dir / replaced.ingest_id, ignore_errors=True)
        return replaced

    def withdraw(self, bundle_id: str) -> Delivery | None:
        """Remove a live delivery (manifest first, then its files); None when it is not live."""
        entries, next_seq = self._read_manifest()
        gone = next((e for e in entries if e.bundle_id == bundle_id), None)
        if gone is None:
            return None
        self._write_manifest([e for e in entries if e.bundle_id != bundle_id], next_seq)
        shutil.rmtree(self.bundles_dir / gone.ingest_id, ignore_errors=True)
        return gone

    def update(self, delivery: Delivery) -> None:
        """Record new facts about a live delivery (its current partials, what suppressed it)."""
        entries, next_seq = self._read_manifest()
        self._write_manifest([delivery if e.seq == delivery.seq else e for e in entries], next_seq)

    # -- reading -----------------------------------------------------------------------------
    def committed(self) -> list[Delivery]:
        """The live deliveries (the manifest names only committed ones), in ingest order."""
        return self.entries()

    def table_files(self, table: str, entries: list[Delivery] | None = None) -> list[str]:
        """The Parquet files of ``table`` of the given (default: every live) delivery."""
        chosen = self.entries() if entries is None else entries
        return [str(p) for e in chosen for p in sorted((self.bundles_dir / e.ingest_id / table).glob("*.parquet"))]

    def partial_dir(self, delivery: Delivery) -> Path:
        return self.bundles_dir / delivery.ingest_id / delivery.partial

    def partial_files(self, name: str, entries: list[Delivery] | None = None) -> list[str]:
        """The partial ``name`` of each given (default: every live) delivery that has one."""
        chosen = self.entries() if entries is None else entries
        paths = (self.partial_dir(e) / f"{name}.parquet" for e in chosen)
        return [str(p) for p in paths if p.is_file()]

    def has_partials(self, delivery: Delivery, names: list[str]) -> bool:
        return all((self.partial_dir(delivery) / f"{n}.parquet").is_file() for n in names)

    def write_partial(self, directory: Path, tables: dict[str, pa.Table]) -> None:
        """Write partial aggregates into ``directory`` (a staging area or a fresh partial-N)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            pq.write_table(table, directory / f"{name}.parquet", **PARQUET_OPTIONS)

    def replace_partial(self, delivery: Delivery, tables: dict[str, pa.Table],
                        suppressed_by: tuple[int, ...]) -> Delivery:
        """New partials for a live delivery, switched to by one manifest write."""
        number = int(delivery.partial.rsplit("-", 1)[-1]) + 1 if "-" in delivery.partial else 1
        fresh = replace(delivery, partial=f"partial-{number}", suppressed_by=suppressed_by)
        target = self.partial_dir(fresh)
        shutil.rmtree(target, ignore_errors=True)
        self.write_partial(target, tables)
        durable.fsync_tree(target)  # on disk before the manifest names it
        self.update(fresh)
        shutil.rmtree(self.partial_dir(delivery), ignore_errors=True)
        return fresh

    def connect(self, memory_limit: str = "4GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
        con.execute(f"SET temp_directory = '{self.root / 'tmp'}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        return con

    def files(self) -> Iterator[Path]:
        """Every Parquet file of every live delivery."""
        for e in self.entries():
            yield from (self.bundles_dir / e.ingest_id).rglob("*.parquet")


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def memory_bytes(size: str) -> int:
    """A memory setting such as "4GB" in bytes (DuckDB's units: KB..TB are powers of 1000)."""
    s = _checked_size(size)
    digits = s.rstrip("KMGTIB")
    return int(digits) * _UNITS[s[len(digits):]]


def _checked_size(size: str) -> str:
    # Settings are typed strings like "4GB"; refuse anything that is not, since it is spliced
    # into a DuckDB SET (which takes no parameters).
    s = size.strip().upper().replace(" ", "")
    digits = s.rstrip("KMGTIB")
    if not digits.isdigit() or s[len(digits):] not in _UNITS.keys() - {"B"}:
        raise ValueError(f"not a memory size: {size!r}")
    return s
