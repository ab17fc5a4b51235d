"""``sybilgraph bench-organisations``: the organisation step's own cost on an ingested home.

The organisation step (``attribution.organisations``) runs inside every attribution run, after
the operators are found; the issue bounds what it adds to a run at scale 1.0 (<= 15 s). This
command runs the step alone on the home's ingest state, as the pipeline calls it, with the
operators of the current attribution run (from Neo4j) or, with ``--truth BUNDLE``, the bundle's
true operators (no attribution run needed: an operator per ``truth.operator``, flagged when
most of its accounts are distillation accounts and it has at least 10). Beside the step it
measures, in the same process, reading attribution's inputs from the columnar store: the floor
every run pays before any work, so the step is reported as a ratio to it as well as in seconds,
with the Python process's peak RSS above what it held before the step.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sybilgraph.bench.rss import RssSampler
from sybilgraph.db.session import Database
from sybilgraph.errors import SybilgraphError
from sybilgraph.settings import Settings

__all__ = ["OrganisationBench", "bench_organisations", "current_run_operators", "truth_operators"]

# A true operator is a campaign in the truth-membership mode when it has this many accounts
# (the pipeline's flag_min_accounts default) and most are distillation accounts.
TRUTH_MIN_CAMPAIGN = 10


@dataclass
class OrganisationBench:
    membership_source: str  # "current run <id>" or "truth <bundle>"
    accounts: int
    operators: int
    members: int
    read_inputs_s: float  # reading attribution's inputs from the store (the floor)
    step_s: list[float] = field(default_factory=list)  # the organisation step, each repeat
    peak_rss_above_mb: float | None = None  # Python RSS peak during the steps, above the RSS before
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def best_s(self) -> float:
        return min(self.step_s)

    @property
    def ratio_to_read(self) -> float:
        return self.best_s / self.read_inputs_s if self.read_inputs_s > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_s": round(self.best_s, 3), "ratio_to_read": round(self.ratio_to_read, 3)}


def truth_operators(bundle: Path) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Membership and operator rows (operator_id, size, flagged) of a bundle's true operators."""
    path = bundle / "truth.parquet"
    if not path.is_file():
        raise SybilgraphError(f"{bundle}: no truth.parquet (--truth takes a generated bundle)")
    rows = duckdb.sql(
        f"SELECT operator, account_id, coalesce(is_distillation, false) AS fake FROM read_parquet('{path}') "
        "WHERE operator IS NOT NULL AND trim(operator) <> '' ORDER BY operator, account_id"
    ).fetchall()
    membership: dict[str, list[str]] = defaultdict(list)
    fake: dict[str, int] = defaultdict(int)
    for op, account, is_fake in rows:
        membership[op].append(account)
        fake[op] += int(bool(is_fake))
    ops = [{"operator_id": op, "size": len(ms), "flagged": len(ms) >= TRUTH_MIN_CAMPAIGN and 2 * fake[op] > len(ms)}
           for op, ms in membership.items()]
    return dict(membership), ops


def current_run_operators(db: Database) -> tuple[str, dict[str, list[str]], list[dict[str, Any]]]:
    """The current attribution run's id, membership and operator rows (operator_id, size, flagged)."""
    run = db.read("attribution/read_current_run")
    if not run:
        raise SybilgraphError("no complete attribution run yet: run 'sybilgraph attribute' first, or pass --truth BUNDLE")
    run_id = str(run[0]["run_id"])
    membership: dict[str, list[str]] = defaultdict(list)
    for r in db.read("attribution/read_run_assignment", run_id=run_id):
        membership[str(r["operator_id"])].append(str(r["account_id"]))
    flagged = {str(r["operator_id"]) for r in db.read("attribution/read_flagged_operators", run_id=run_id)}
    ops = [{"operator_id": op, "size": len(ms), "flagged": op in flagged} for op, ms in sorted(membership.items())]
    return run_id, dict(membership), ops


def bench_organisations(
    settings: Settings,
    membership: Mapping[str, Sequence[str]],
    operators: Sequence[Mapping[str, Any]],
    source: str,
    repeat: int = 2,
    decisions: Sequence[Mapping[str, Any]] = (),
) -> OrganisationBench:
    """Read the inputs (timed), then run the organisation step ``repeat`` times (each timed)."""
    from sybilgraph.attribution.inputs import read_inputs
    from sybilgraph.attribution.organisations import attribute_organisations

    t0 = time.perf_counter()
    inputs = read_inputs(settings)
    read_s = time.perf_counter() - t0
    result = OrganisationBench(source, inputs.n_accounts, len(operators), sum(len(m) for m in membership.values()), round(read_s, 3))
    with RssSampler() as sampler:
        before = sampler.sample_now().rss.get("python")
        for _ in range(max(repeat, 1)):
            t0 = time.perf_counter()
            orgs = attribute_organisations(inputs.state, membership, operators, decisions,
                                           settings.attribution.params().models_dir, settings.attribution.memory_limit)
            result.step_s.append(round(time.perf_counter() - t0, 3))
        sampler.sample_now()
        peak = max((s.rss.get("python", 0) for s in sampler.snapshot()), default=0)
    if before:
        result.peak_rss_above_mb = round((peak - before) / 2**20, 1)
    result.counts = dict(orgs.counts)
    return result
