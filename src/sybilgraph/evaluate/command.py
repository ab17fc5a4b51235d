"""``sybilgraph evaluate``: score the current attribution against truth, beside the baselines.

The baselines run in the same command on the same data: fraud rings and EvilCohort on the
account-identifier links the graph holds (identifiers of one account link nobody, so nothing a
baseline could use is missing); Splink, when installed (``pip install 'sybilgraph[eval]'``), on
one record per account built from the ingest state (every identifier kind, user agents and BINs
too). Without Splink the other two run and a note says how to install it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.db.session import Database
from sybilgraph.errors import SybilgraphError
from sybilgraph.evaluate.baselines import run_baselines
from sybilgraph.evaluate.calibration import ReliabilityBin, expected_calibration_error, reliability
from sybilgraph.evaluate.metrics import (
    EvaluationResult,
    OrganisationMetrics,
    evaluate,
    flagged_share_by_operator,
    organisation_metrics,
)
from sybilgraph.evaluate.splink_baseline import INSTALL_HINT, run_splink, splink_available
from sybilgraph.progress import Reporter

__all__ = ["Evaluation", "evaluate_current", "load_truth", "OPEN_CUSTOMER_PREFIX"]

# Truth operators of the generator's large open customers (docs/generator.md).
OPEN_CUSTOMER_PREFIX = "CUST-"


@dataclass(frozen=True)
class Evaluation:
    results: list[EvaluationResult]  # sybilgraph first, then the baselines
    reliability: list[ReliabilityBin]
    calibration_error: float | None
    run_id: str | None
    notes: tuple[str, ...] = ()  # what the reader must know, e.g. a baseline that did not run
    # Per method (every result's method): ECE of its confidence, and the share of each large
    # open customer's accounts it flags (truth operators CUST-*; empty without any).
    method_calibration_errors: dict[str, float | None] = field(default_factory=dict)
    open_customers_flagged: dict[str, dict[str, float]] = field(default_factory=dict)
    # Organisation attribution of the true operators; None without truth.organisation and the
    # generator's manifest (generator.json) beside the truth.
    organisations: OrganisationMetrics | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "notes": list(self.notes),
                "results": [r.model_dump(mode="json") for r in self.results],
                "reliability": [b.model_dump(mode="json") for b in self.reliability],
                "expected_calibration_error": self.calibration_error,
                "method_calibration_errors": self.method_calibration_errors,
                "open_customers_flagged": self.open_customers_flagged,
                "organisations": self.organisations.model_dump(mode="json") if self.organisations else None,
            },
            indent=2,
        )


def load_truth(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(truth, labels) from a bundle directory, or truth alone from a file."""
    from sybilgraph.ingest.readers import find_table_files, read_table

    def table(bundle: Path, name: str) -> pd.DataFrame:
        if not find_table_files(bundle, name):
            return pd.DataFrame()
        parts = [b.good for b in read_table(bundle, name)]
        return pa.Table.from_batches(parts).to_pandas() if parts else pd.DataFrame()

    if path.is_dir():
        truth = table(path, "truth")
        if truth.empty:
            raise SybilgraphError(f"{path}: the bundle has no truth table")
        return truth, table(path, "labels")
    if path.is_file():
        truth = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
        if "is_distillation" in truth and truth["is_distillation"].dtype == object:
            truth["is_distillation"] = truth["is_distillation"].str.lower().isin(["true", "1", "yes"])
        return truth, pd.DataFrame()
    raise SybilgraphError(f"truth not found: {path}")


def evaluate_current(
    db: Database, truth_path: Path, baselines: bool = False, reporter: Reporter | None = None
) -> Evaluation:
    from sybilgraph.attribution.export import read_export
    from sybilgraph.attribution.pipeline import read_links

    truth, labels = load_truth(truth_path)
    known_labels = labels if not labels.empty else None
    run = db.read("attribution/read_current_run")
    if not run:
        raise SybilgraphError("no complete attribution run yet: run 'sybilgraph attribute' first")
    timings = json.loads(run[0]["timings_json"] or "{}")
    export = read_export(db).to_pandas()
    results = [evaluate(export, truth, known_labels, method="sybilgraph",
                        runtime_s=round(sum(timings.values()), 3))]
    exports = {"sybilgraph": export}
    notes: list[str] = []
    if baselines:
        links = read_links(db)
        pairs = links.select(["account_id", "kind", "value"]).filter(
            pc.is_in(links["kind"], value_set=pa.array(["card", "device", "ip"]))
        )
        runs = run_baselines(pairs, truth, known_labels)
        if splink_available():
            runs.append(run_splink(db.settings, truth, known_labels, reporter=reporter))
        else:
            notes.append(f"Splink baseline not run: {INSTALL_HINT}")
        for b in runs:
            if b.evaluation is not None:
                results.append(b.evaluation)
                exports[b.name] = b.export
    bins = reliability(export, truth)
    orgs = evaluate_organisations(db, export, truth, labels, truth_path)
    return Evaluation(
        results, bins, expected_calibration_error(bins), run[0]["run_id"], tuple(notes),
        method_calibration_errors={m: expected_calibration_error(reliability(e, truth)) for m, e in exports.items()},
        open_customers_flagged={m: flagged_share_by_operator(e, truth, OPEN_CUSTOMER_PREFIX) for m, e in exports.items()},
        organisations=orgs,
    )


def evaluate_organisations(
    db: Database, export: pd.DataFrame, truth: pd.DataFrame, labels: pd.DataFrame, truth_path: Path
) -> OrganisationMetrics | None:
    """Organisation metrics of the current run, when the truth says which organisation runs each
    operator and the generator's manifest says which left a trail."""
    manifest = truth_path / "generator.json" if truth_path.is_dir() else truth_path.parent / "generator.json"
    if "organisation" not in truth.columns or not manifest.is_file():
        return None
    operators = json.loads(manifest.read_text()).get("operators", [])
    if not operators or not isinstance(operators[0], dict) or "leaves_trail" not in operators[0]:
        return None
    hyps = db.read("attribution/read_organisation_hypotheses")
    names = {h["org_id"]: h["name"] for h in hyps}
    return organisation_metrics(export, truth, operators, hyps, labels if not labels.empty else None, names)
