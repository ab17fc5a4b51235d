"""What is live in the columnar store: one summary per delivery, for the people who deliver.

A platform engineer correcting or taking back a delivery needs its bundle id (redeliver under
it, or ``sybilgraph ingest --withdraw BUNDLE_ID``), and wants to see what it brought. This reads
the manifest (the one authority on what is live), the row counts of each delivery's staged
Parquet (footers only) and its ingest report. It needs no database and takes no lease: the
manifest is replaced atomically, and a delivery replaced while it is being listed shows with
its row counts unknown.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from sybilgraph.contract import TABLE_ORDER
from sybilgraph.ingest.columnar import ColumnarStore, Delivery
from sybilgraph.ingest.report import read_report, report_path

__all__ = ["DeliverySummary", "live_deliveries"]


class DeliverySummary(BaseModel):
    """One live delivery, in ingest order."""

    bundle_id: str
    ingest_id: str  # its directory in the columnar store ("d" + seq)
    seq: int
    committed_at: str | None = None  # when it became live (UTC); None for deliveries older than the field
    source: str | None = None  # bundle.json's "source"
    produced_at: str | None = None  # bundle.json's "produced_at"
    bundle: str  # the directory it was read from
    digest: str  # content hash of its contract files
    rows: dict[str, int] | None = Field(default=None, description="live rows per table; None when its files changed while listed")
    rows_quarantined: int | None = None  # from its ingest report; None without one
    status: str | None = None  # its ingest report's: ok, quarantined or partial
    # Bundle ids of earlier live deliveries that hold some of its interaction or session ids:
    # those rows count there. Withdrawing one of them makes this delivery's copies count.
    ids_counted_in: list[str] = Field(default_factory=list)
    report_file: str | None = None


def live_deliveries(store: ColumnarStore, runs_dir: Path) -> list[DeliverySummary]:
    """Every live delivery of ``store``, in ingest order; ``runs_dir``: where ingest reports are."""
    entries = store.entries()
    bundle_of = {e.seq: e.bundle_id for e in entries}
    return [_summary(store, e, bundle_of, report_path(runs_dir, e.ingest_id)) for e in entries]


def _summary(store: ColumnarStore, delivery: Delivery, bundle_of: dict[int, str], path: Path) -> DeliverySummary:
    report = read_report(path)
    return DeliverySummary(
        bundle_id=delivery.bundle_id,
        ingest_id=delivery.ingest_id,
        seq=delivery.seq,
        committed_at=delivery.committed_at,
        source=delivery.source,
        produced_at=delivery.produced_at,
        bundle=delivery.bundle,
        digest=delivery.digest,
        rows=_rows(store, delivery),
        rows_quarantined=report.rows_quarantined if report else None,
        status=report.status if report else None,
        ids_counted_in=[bundle_of.get(seq, f"delivery {Delivery.key(seq)}") for seq in delivery.suppressed_by],
        report_file=str(path) if report else None,
    )


def _rows(store: ColumnarStore, delivery: Delivery) -> dict[str, int] | None:
    """Rows per contract table the delivery staged, from the Parquet footers (tables it lacks: 0)."""
    rows: dict[str, int] = {}
    try:
        for table in TABLE_ORDER:
            rows[table] = sum(pq.ParquetFile(f).metadata.num_rows for f in store.table_files(table, [delivery]))
    except OSError:  # replaced or withdrawn while we read it
        return None
    return rows

