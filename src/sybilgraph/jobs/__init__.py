"""Scheduled jobs: watch an inbox for bundles, ingest them, attribute new accounts at once
(incremental, provisional) and everything on a schedule (full runs), one attribution at a time
across processes. See docs/jobs.md.
"""

from sybilgraph.jobs.history import runs_table
from sybilgraph.jobs.incremental import IncrementalResult, attribute_new_accounts
from sybilgraph.jobs.scheduler import CycleReport, Scheduler, main

__all__ = ["CycleReport", "IncrementalResult", "Scheduler", "attribute_new_accounts", "main", "runs_table"]
