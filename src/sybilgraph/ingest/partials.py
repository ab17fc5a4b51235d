"""A delivery's partial aggregates, counting each interaction and session id once.

The data contract: where ``interaction_id`` or ``session_id`` is present, a row whose id was seen
before, in this or any other delivery, counts once. Which copy counts is fixed by ingest order:
the first one, by delivery sequence number, then by position in the delivery (file, row). So a
delivery's partials leave out the rows whose id an *earlier* live delivery holds, and the later
copies of an id repeated inside it. Rows without an id always count.

The delivery records which earlier deliveries held its ids (``Delivery.suppressed_by``); when one
of them is withdrawn (or replaced, which withdraws it), this delivery's partials are computed
again, and its copies count from then on. Later deliveries never change an earlier one's
partials, so nothing cascades.

The common case, no repeated id, costs one hash aggregate over the delivery's ids (and a
semi-join probe of the earlier deliveries' id column); only when something repeats are the
delivery's rows copied, without the repeats, for the aggregator to read.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from sybilgraph.ingest.aggregators import INPUT_TABLES, AggregateInput, Aggregator
from sybilgraph.ingest.columnar import ColumnarStore, Delivery

__all__ = ["ROW_IDS", "PartialResult", "compute_partials"]

# The tables whose rows carry an id that must count once, and the id column.
ROW_IDS: dict[str, str] = {"interactions": "interaction_id", "sessions": "session_id"}
# A row's position in its delivery: file index in the high bits, row in the file below.
_POSITION = "(file_index::BIGINT << 40) + file_row_number"


@dataclass(frozen=True)
class PartialResult:
    tables: dict[str, pa.Table]
    suppressed_by: tuple[int, ...]  # earlier deliveries that held some of its ids
    rows_repeated: dict[str, int]  # per table, rows left out because their id counted elsewhere
    source: str = "staged"  # "fused": from the validated batches (fused.py); "staged": the staged Parquet


def compute_partials(
    store: ColumnarStore,
    files: Mapping[str, list[str]],
    seq: int,
    aggregator: Aggregator,
    connect: Callable[[], duckdb.DuckDBPyConnection],
    schemas: Mapping[str, pa.Schema],
    exclude: Delivery | None = None,
    precomputed: Callable[[], dict[str, pa.Table] | None] | None = None,
) -> PartialResult:
    """The partials of a delivery whose staged files are ``files`` (table -> Parquet files).

    ``seq``: its sequence number; the live deliveries with a smaller one are "earlier", but
    ``exclude`` (the delivery a redelivery is about to replace). ``precomputed``: the partials
    of every staged row (the fused pass, ``fused.py``), used when no row is left out here; None
    from it, or a row left out, and the staged files are aggregated.
    """
    earlier = [e for e in store.entries() if e.seq < seq and (exclude is None or e.seq != exclude.seq)]
    work = store.root / "tmp" / f"dedup-{seq:06d}"
    shutil.rmtree(work, ignore_errors=True)
    inputs: dict[str, list[str] | None] = {t: list(files.get(t, [])) or None for t in INPUT_TABLES}
    suppressed: set[int] = set()
    repeated: dict[str, int] = {}
    con = connect()
    try:
        for table, id_column in ROW_IDS.items():
            mine = inputs.get(table)
            if not mine or not _has_ids(con, mine, id_column):
                continue
            holders, dropped, kept = _deduplicate(con, table, id_column, mine, store, earlier, work)
            suppressed |= holders
            if dropped:
                repeated[table] = dropped
                inputs[table] = kept
        tables = precomputed() if precomputed is not None and not repeated else None
        source = "fused" if tables is not None else "staged"
        if tables is None:
            tables = aggregator.aggregate(AggregateInput(tables=inputs, schemas={t: schemas[t] for t in INPUT_TABLES}))
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    return PartialResult(tables, tuple(sorted(suppressed)), repeated, source)


def _files_sql(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _has_ids(con: duckdb.DuckDBPyConnection, files: list[str], id_column: str) -> bool:
    row = con.sql(
        f"SELECT 1 FROM read_parquet({_files_sql(files)}, union_by_name=true) WHERE {id_column} IS NOT NULL LIMIT 1"
    ).fetchall()
    return bool(row)


def _deduplicate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    id_column: str,
    mine: list[str],
    store: ColumnarStore,
    earlier: list[Delivery],
    work: Path,
) -> tuple[set[int], int, list[str]]:
    """(earlier deliveries holding its ids, rows dropped, the files to aggregate instead)."""
    src = f"read_parquet({_files_sql(mine)}, union_by_name=true, file_row_number=true)"
    # Ids repeated inside the delivery, with the position of the copy that counts.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE repeats AS SELECT {id_column} AS id, min({_POSITION}) AS first_pos "
        f"FROM {src} WHERE {id_column} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
    )
    holders: set[int] = set()
    con.execute("CREATE OR REPLACE TEMP TABLE held (id VARCHAR)")
    earlier_files = [(e, f) for e in earlier for f in store.table_files(table, [e])]
    if earlier_files:
        file_seq = pa.table({"file_index": pa.array(range(len(earlier_files)), pa.uint64()),
                             "seq": pa.array([e.seq for e, _ in earlier_files], pa.int64())})
        con.register("earlier_file_seq", file_seq)
        mine_ids = f"(SELECT DISTINCT {id_column} AS id FROM read_parquet({_files_sql(mine)}, union_by_name=true) WHERE {id_column} IS NOT NULL)"
        earlier_src = f"read_parquet({_files_sql([f for _, f in earlier_files])}, union_by_name=true)"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE hits AS SELECT e.{id_column} AS id, e.file_index FROM {earlier_src} e "
            f"SEMI JOIN {mine_ids} m ON e.{id_column} = m.id"
        )
        holders = {int(r[0]) for r in con.sql(
            "SELECT DISTINCT s.seq FROM hits h JOIN earlier_file_seq s USING (file_index)").fetchall()}
        con.execute("INSERT INTO held SELECT DISTINCT id FROM hits")
    n_repeats = int(con.sql("SELECT count(*) FROM repeats").fetchall()[0][0])
    if not holders and n_repeats == 0:
        return holders, 0, mine
    # Rows to drop: every row of an id an earlier delivery holds, and every copy of a repeated id
    # but the first. The special ids are few: the join's build side is small.
    keep_sql = (
        f"SELECT m.* EXCLUDE (file_row_number) FROM {src} m "
        f"LEFT JOIN (SELECT id, first_pos, id IN (SELECT id FROM held) AS held FROM repeats "
        f"           UNION ALL SELECT id, NULL, true FROM held WHERE id NOT IN (SELECT id FROM repeats)) s "
        f"  ON m.{id_column} = s.id "
        f"WHERE s.id IS NULL OR (NOT s.held AND {_POSITION.replace('file_', 'm.file_')} = s.first_pos)"
    )
    out = work / table
    out.mkdir(parents=True, exist_ok=True)
    target = out / "part-00000.parquet"
    con.execute(f"COPY ({keep_sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    kept_rows = int(con.sql(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0])
    all_rows = int(con.sql(f"SELECT count(*) FROM read_parquet({_files_sql(mine)})").fetchall()[0][0])
    return holders, all_rows - kept_rows, [str(target)]
