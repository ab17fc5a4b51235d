"""The error hierarchy: every error a user can see is a SybilgraphError with a message for people.

The CLI prints ``str(error)`` and exits non-zero; it never prints a traceback for these.
"""

from __future__ import annotations

__all__ = [
    "SybilgraphError",
    "ConfigError",
    "DatabaseUnavailable",
    "TransactionTimedOut",
    "LauncherError",
    "BundleError",
    "TableError",
    "IngestMemoryError",
    "AttributionError",
    "ReportError",
]


class SybilgraphError(Exception):
    """Base of every error that is meant to be read by a person."""


class ConfigError(SybilgraphError):
    """A setting is missing or invalid."""


class DatabaseUnavailable(SybilgraphError):
    """Neo4j does not answer at the configured URI."""


class TransactionTimedOut(SybilgraphError):
    """The server ended a transaction that outlived its timeout (or waited that long for a lock)."""


class LauncherError(SybilgraphError):
    """The local Neo4j + GDS launcher could not be built, started or stopped."""


class BundleError(SybilgraphError):
    """A bundle directory cannot be used at all (missing, or no accounts table)."""


class TableError(SybilgraphError):
    """One table of a bundle cannot be read: wrong format or a missing required column.

    The table loads nothing; the other tables still load.
    """

    def __init__(self, table: str, path: str, reason: str) -> None:
        self.table = table
        self.path = path
        self.reason = reason
        super().__init__(f"table '{table}' ({path}): {reason}")


class IngestMemoryError(SybilgraphError):
    """The columnar aggregation needed more memory than ``ingest.memory_limit`` allows; a re-run
    with a larger limit resumes the delivery (ingest is idempotent and crash-safe)."""


class AttributionError(SybilgraphError):
    """An attribution run failed; the previous complete run stays current."""


class ReportError(SybilgraphError):
    """A case file cannot be made: unknown operator, no current run, no PDF renderer."""
