"""Ingest: read and validate a bundle, keep its rows in the columnar store, write the graph."""

from sybilgraph.ingest.pipeline import bundle_digest, ingest_bundle
from sybilgraph.ingest.report import IngestReport, TableReport

__all__ = ["ingest_bundle", "bundle_digest", "IngestReport", "TableReport"]
