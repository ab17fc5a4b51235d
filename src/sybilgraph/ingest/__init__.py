"""Ingest: read and validate bundle deliveries, keep their rows in the columnar store, write the graph."""

from sybilgraph.ingest.pipeline import bundle_digest, ingest_bundle, withdraw_bundle
from sybilgraph.ingest.report import IngestReport, TableReport, WithdrawReport

__all__ = ["ingest_bundle", "withdraw_bundle", "bundle_digest", "IngestReport", "TableReport", "WithdrawReport"]
