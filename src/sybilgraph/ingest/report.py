"""Typed report of one ingest run, written as JSON beside its quarantine file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["TableReport", "IngestReport", "WithdrawReport", "EXIT_OK", "EXIT_QUARANTINED", "EXIT_TABLE_FAILED",
           "read_report", "report_dir", "report_path"]

EXIT_OK = 0
EXIT_TABLE_FAILED = 2
EXIT_QUARANTINED = 3


class TableReport(BaseModel):
    table: str
    files: list[str] = Field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None  # the table failed as a whole and loaded nothing


class IngestReport(BaseModel):
    ingest_id: str  # the delivery: its directory in the columnar store ("d" + seq)
    bundle: str
    seq: int
    bundle_id: str = ""  # bundle.json's bundle_id, else the bundle directory's name
    source: str | None = None  # bundle.json's "source", where given
    produced_at: str | None = None  # bundle.json's "produced_at", as written there
    replaced: str | None = None  # the earlier delivery of this bundle id it replaced
    reused_staging: bool = False  # the same content was live already: nothing was staged
    # Rows left out because their interaction_id / session_id counted in an earlier row.
    rows_repeated: dict[str, int] = Field(default_factory=dict)
    # Where the delivery's partial aggregates came from: "fused" (the validated batches, read
    # once), "staged" (its staged Parquet: repeated ids, a table failed midway, or fusing is off).
    partials_from: str | None = None
    tables: dict[str, TableReport] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    graph_writes: dict[str, int] = Field(default_factory=dict)
    # How the state the graph follows was updated: "splice: ..." (only what the delivery
    # touched) or "combine: <why not a splice>"; None when nothing changed.
    state_update: str | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)
    quarantine_file: str | None = None
    report_file: str | None = None

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows_loaded for t in self.tables.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(t.rows_quarantined for t in self.tables.values())

    @property
    def failed_tables(self) -> list[str]:
        return [t.table for t in self.tables.values() if t.error]

    @property
    def status(self) -> str:
        if self.failed_tables:
            return "partial"
        return "quarantined" if self.rows_quarantined else "ok"

    @property
    def exit_code(self) -> int:
        if self.failed_tables:
            return EXIT_TABLE_FAILED
        return EXIT_QUARANTINED if self.rows_quarantined else EXIT_OK

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)


class WithdrawReport(BaseModel):
    bundle_id: str
    ingest_id: str  # the delivery withdrawn
    seq: int
    graph_writes: dict[str, int] = Field(default_factory=dict)
    state_update: str | None = None  # as IngestReport.state_update
    timings_s: dict[str, float] = Field(default_factory=dict)


def report_dir(runs_dir: Path, ingest_id: str) -> Path:
    """Where the report and the quarantine file of delivery ``ingest_id`` are kept."""
    return runs_dir / "ingest" / ingest_id


def report_path(runs_dir: Path, ingest_id: str) -> Path:
    return report_dir(runs_dir, ingest_id) / "report.json"


def read_report(path: Path) -> IngestReport | None:
    """A saved report, when it is there and readable (it informs; the manifest decides what is live)."""
    try:
        return IngestReport.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None
