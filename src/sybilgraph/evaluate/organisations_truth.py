"""``sybilgraph evaluate-organisations``: the organisation step alone, on bundles' true operators.

Issue 15's acceptance is measured on the product path (``evaluate-matrix``: ingest, attribute,
the organisation step on the operators attribution found), over an hour for 20 draws at scale
0.02 and 5 at 0.2 on a 2-core machine. This command isolates the organisation step, so a change
to its model can be measured on the same draws in minutes: each bundle is staged into a scratch
columnar home (validated and aggregated as ``sybilgraph ingest`` does, without Neo4j), its true
operators stand in for attribution's (``bench-organisations --truth``'s rule: an operator is
flagged when most of its at least 10 accounts are distillation accounts), the step runs as the
pipeline calls it, and the result is scored by the matrix's own ``organisation_metrics``
(export = the true operators with the asserted organisation). What it leaves out is what
attribution does to the operators (a split campaign, a leaked account placed with its
organisation's open accounts): the matrix measures that.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sybilgraph.evaluate.metrics import OrganisationMetrics, organisation_metrics

__all__ = ["TruthOrganisations", "evaluate_organisations", "stage_state"]


@dataclass(frozen=True)
class TruthOrganisations:
    bundle: str
    metrics: OrganisationMetrics
    candidates: int
    operator_prior: dict[str, float]

    def counts(self) -> dict[str, int]:
        m = self.metrics
        return {"trail": m.n_trail, "asserted": m.n_trail_asserted, "correct": m.n_trail_correct,
                "no_trail": m.n_no_trail, "no_trail_asserted": m.n_no_trail_asserted, "decoy_top": m.n_decoy_top,
                "hypotheses": m.n_hypotheses or 0, "hypotheses_without_evidence": m.n_hypotheses_without_evidence or 0}


def stage_state(bundle: Path, home: Path) -> Any:
    """``bundle``'s ingest state in a fresh columnar store under ``home`` (no Neo4j)."""
    from sybilgraph.ingest import pipeline
    from sybilgraph.ingest.bundle import open_bundle
    from sybilgraph.ingest.columnar import ColumnarStore
    from sybilgraph.ingest.combine import combine
    from sybilgraph.ingest.state import StateDir, read_state
    from sybilgraph.progress import NullReporter
    from sybilgraph.settings import Settings

    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    store = ColumnarStore(settings.columnar_dir)
    pipeline.stage_delivery(open_bundle(bundle), store, settings, NullReporter(), None, {})
    pipeline.refresh_partials(store, settings)
    con = store.connect(memory_limit=settings.ingest.memory_limit)
    try:
        tables = combine(con, pipeline.combine_input(store, settings))
    finally:
        con.close()
    StateDir(store.state_dir).write(tables, pipeline.PARQUET_OPTIONS, store.revision())
    return read_state(settings)


def score_bundle(bundle: Path, state: Any, models_dir: str = "") -> TruthOrganisations:
    """The organisation step on ``bundle``'s true operators over its staged ``state``, scored."""
    from sybilgraph.attribution.organisations import attribute_organisations
    from sybilgraph.bench.organisations_bench import truth_operators

    membership, operators = truth_operators(bundle)
    result = attribute_organisations(state, membership, operators, (), models_dir)
    asserted = result.asserted()
    export = pd.DataFrame([(a, op) for op, members in membership.items() for a in members], columns=["account_id", "operator_id"])
    export["organisation_id"] = export["operator_id"].map(asserted)
    export["flagged"] = True
    manifest = json.loads((bundle / "generator.json").read_text()) if (bundle / "generator.json").is_file() else {}
    manifest_ops = [o for o in manifest.get("operators", []) if isinstance(o, dict) and o.get("organisation")]
    labels = pd.read_csv(bundle / "labels.csv") if (bundle / "labels.csv").is_file() else None
    truth = pd.read_parquet(bundle / "truth.parquet")
    metrics = organisation_metrics(export, truth, manifest_ops, [h.row() for h in result.hypotheses], labels, result.names)
    prior = result.model.provenance.get("operator_prior", {}) if result.model is not None else {}
    return TruthOrganisations(bundle.name, metrics, result.counts.get("organisation_candidates", 0), dict(prior))


def evaluate_organisations(
    bundles: Sequence[Path], models_dir: str = "", work: Path | None = None, progress: Callable[[str], None] | None = None
) -> list[TruthOrganisations]:
    """Stage, run and score every bundle in turn (each staged home removed after its bundle)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="sybilgraph-orgs-", dir=work) as tmp:
        for i, bundle in enumerate(bundles):
            home = Path(tmp) / "home"
            result = score_bundle(bundle, stage_state(bundle, home), models_dir)
            shutil.rmtree(home, ignore_errors=True)
            out.append(result)
            if progress:
                c = result.counts()
                progress(f"{i + 1}/{len(bundles)} {bundle.name}: {c['correct']}/{c['trail']} with a trail attributed correctly, "
                         f"{c['asserted'] - c['correct']} wrongly, {c['no_trail_asserted']}/{c['no_trail']} without a trail, "
                         f"{c['decoy_top']} decoys on top")
    return out


def pooled(results: Sequence[TruthOrganisations]) -> dict[str, Any]:
    """Counts summed over the bundles, with precision and recall pooled and the worst bundle's recall."""
    total: dict[str, Any] = {}
    for r in results:
        for k, v in r.counts().items():
            total[k] = total.get(k, 0) + v
    total["precision"] = total["correct"] / total["asserted"] if total.get("asserted") else None
    total["recall"] = total["correct"] / total["trail"] if total.get("trail") else None
    recalls = [(r.metrics.recall, r.bundle) for r in results if r.metrics.recall is not None]
    total["worst_recall"] = min(recalls) if recalls else None
    return total
