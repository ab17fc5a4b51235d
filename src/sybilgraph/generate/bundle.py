"""generate_bundle: write a complete synthetic bundle with ground truth.

Why a generator at all: real distillation campaigns come with no ground truth and cannot be
shared, yet attribution must be measured (precision/recall per operator) and tested end to end.
The bundle written here follows docs/data-contract.md exactly, so it goes through the same
ingest path as production data, and carries the `truth` table the evaluator scores against.

Files written into ``out_dir`` (other files there are left alone):
``accounts.parquet``, ``payment_methods.parquet``, ``sessions.parquet``,
``interactions/part-NNNNN.parquet``, ``labels.csv`` (CSV on purpose: it exercises the text
path of the readers), ``truth.parquet`` and ``generator.json`` (a manifest; readers skip it).
Drawn worlds (``tradecraft`` random or a family list) add ``organisations.parquet``,
``ip_owners.parquet`` and ``truth_epochs.parquet`` (hijacked accounts; not a contract table).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

import sybilgraph
from sybilgraph.contract import TABLE_ORDER
from sybilgraph.errors import SybilgraphError
from sybilgraph.generate import tables
from sybilgraph.generate.activity import SYNC_JITTER_MS, SYNC_PERIOD_MS, interaction_parts, plan_parts
from sybilgraph.generate.config import (
    BENIGN_END,
    BENIGN_START,
    CAMPAIGN_END,
    CAMPAIGN_START,
    GENERATOR_VERSION,
    OPERATORS,
    ROWS_PER_PART,
)
from sybilgraph.generate.population import KIND_FAKE, Population, build_population
from sybilgraph.generate.tradecraft import Tradecraft, TradecraftError, draw_world, parse_tradecraft
from sybilgraph.generate.writer import write_csv, write_json, write_parquet

__all__ = ["MANIFEST", "TABLE_FILES", "GenerateReport", "Progress", "generate_bundle"]

Progress = Callable[[str, float], None]

TABLE_FILES: dict[str, str] = {
    "accounts": "accounts.parquet",
    "payment_methods": "payment_methods.parquet",
    "sessions": "sessions.parquet",
    "interactions": "interactions",
    "labels": "labels.csv",
    "truth": "truth.parquet",
}
# Written by drawn worlds only (random and family tradecraft).
WORLD_FILES: dict[str, str] = {
    "organisations": "organisations.parquet",
    "ip_owners": "ip_owners.parquet",
    "truth_epochs": "truth_epochs.parquet",
}
MANIFEST = "generator.json"
MAX_SCALE = 10.0


class GenerateArgumentError(SybilgraphError, ValueError):
    """A scale or seed generate_bundle cannot use. A ValueError for callers, and a
    SybilgraphError so the CLI prints its message instead of a traceback."""


@dataclass(frozen=True)
class GenerateReport:
    """What generate_bundle wrote."""

    out_dir: Path
    scale: float
    seed: int
    counts: Mapping[str, int]  # rows per contract table
    n_operators: int  # distillation operators
    n_multi_account_operators: int  # households and organisations (true, non-distillation)
    n_labelled_operators: int
    interaction_parts: int
    elapsed_seconds: float
    tradecraft: str = "classic"

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def _iso(ms_value: int) -> str:
    return str(np.datetime64(ms_value, "ms").astype("datetime64[s]")) + "Z"


def _prepare(out_dir: Path) -> None:
    """Create the directory and remove files this generator wrote before (a stale part from a
    bigger run would otherwise be read as part of the new interactions table)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in [*TABLE_FILES.values(), *WORLD_FILES.values()]:
        path = out_dir / name
        if path.is_file():
            path.unlink()
    parts = out_dir / TABLE_FILES["interactions"]
    if parts.is_dir():
        for old in parts.glob("part-*.parquet"):
            old.unlink()


def _manifest(pop: Population, scale: float, seed: int, counts: Mapping[str, int], n_parts: int) -> dict[str, Any]:
    a = pop.a
    operators = []
    labelled = {label for _, label, _ in tables.label_accounts(pop)}
    for op, spec in enumerate(OPERATORS):
        sel = a["op"] == op
        operators.append(
            {
                "operator": spec.truth,
                "label": spec.label if spec.label in labelled else None,
                "label_source": spec.label_source if spec.label in labelled else None,
                "accounts": int(sel.sum()),
                "interactions": int(pop.n_interactions[sel].sum()),
                "tradecraft": spec.tradecraft,
            }
        )
    benign = a["kind"] != KIND_FAKE
    return {
        "generator": "sybilgraph.generate",
        "generator_version": GENERATOR_VERSION,
        "sybilgraph_version": sybilgraph.__version__,
        "scale": scale,
        "seed": seed,
        "command": f"sybilgraph generate OUT_DIR --scale {scale} --seed {seed}",
        "windows": {
            "campaign": [_iso(CAMPAIGN_START), _iso(CAMPAIGN_END)],
            "benign": [_iso(BENIGN_START), _iso(BENIGN_END)],
        },
        "files": dict(TABLE_FILES),
        "counts": dict(counts),
        "interaction_parts": n_parts,
        "benign": {
            "accounts": int(benign.sum()),
            "interactions": int(pop.n_interactions[benign].sum()),
            "segments": {k: v for k, v in pop.segments.items() if not k.startswith("operator_")},
        },
        "operators": operators,
        "careful_operator_scheduler": {
            "period_ms": SYNC_PERIOD_MS,
            "jitter_ms": SYNC_JITTER_MS,
            "phase_ms": pop.sync_phase_ms,
        },
        "truth_note": "truth.operator is null for accounts that stand alone; HH-* are households "
        "and ORG-* organisations (true multi-account operators, is_distillation=false).",
    }


def _world_manifest(pop: Population, scale: float, seed: int, counts: Mapping[str, int], n_parts: int) -> dict[str, Any]:
    from sybilgraph.generate.world_tables import world_manifest

    a = pop.a
    benign = a["kind"] != KIND_FAKE
    tc = pop.world.world.tradecraft
    return {
        "generator": "sybilgraph.generate",
        "generator_version": GENERATOR_VERSION,
        "sybilgraph_version": sybilgraph.__version__,
        "scale": scale,
        "seed": seed,
        "command": f"sybilgraph generate OUT_DIR --scale {scale} --seed {seed} --tradecraft {tc}",
        "windows": {
            "campaign": [_iso(CAMPAIGN_START), _iso(CAMPAIGN_END)],
            "benign": [_iso(BENIGN_START), _iso(BENIGN_END)],
        },
        "files": {**TABLE_FILES, **WORLD_FILES},
        "counts": dict(counts),
        "interaction_parts": n_parts,
        "benign": {
            "accounts": int((benign & pop.primary).sum()),
            "interactions": int(pop.n_interactions[benign].sum()),
            "segments": {k: v for k, v in pop.segments.items() if not k.startswith("operator_")},
        },
        **world_manifest(pop),
        "truth_note": "truth.operator is null for accounts that stand alone; DIST-* are distillation operators, "
        "HH-* households, ORG-* organisations (small companies, and the open accounts of operators' "
        "organisations and of benign AI labs), CUST-* large open customers; SaaS tenants stand alone. "
        "truth.organisation names the organisation as the data does: its org_id when listed in "
        "organisations, else its name (the owner of its network in ip_owners). Hijacked accounts belong "
        "to their operator from truth_epochs.controlled_from on.",
    }


def generate_bundle(
    out_dir: Path,
    scale: float = 0.02,
    seed: int = 1,
    progress: Progress | None = None,
    tradecraft: str = "classic",
) -> GenerateReport:
    """Write a synthetic distillation bundle with ground truth into ``out_dir``.

    Deterministic: the same (scale, seed, tradecraft) gives byte-identical files. ``progress``
    is called with (stage, fraction of that stage done) as the work goes on. ``tradecraft`` is
    ``classic`` (the five fixed operators), ``random`` (3-7 operators of drawn families and
    knobs, a drawn benign crowd) or a family list such as ``careful:2,vm_farm``
    (docs/generator.md). Raises GenerateArgumentError (a ValueError) for a scale outside
    (0, 10], a seed outside [0, 2**32) or an unknown tradecraft.
    """
    if not (isinstance(scale, int | float) and math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise GenerateArgumentError(f"scale must be in (0, {MAX_SCALE}], got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise GenerateArgumentError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    try:
        mode: Tradecraft = parse_tradecraft(tradecraft)
    except TradecraftError as exc:
        raise GenerateArgumentError(str(exc)) from None
    scale = float(scale)
    report = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    _prepare(out_dir)

    report("population", 0.0)
    if mode.classic:
        pop = build_population(seed, scale)
    else:
        from sybilgraph.generate.world import build_world_population

        pop = build_world_population(draw_world(seed, scale, mode))
    report("population", 1.0)

    counts: dict[str, int] = {}
    small = {
        "accounts": tables.accounts_table,
        "payment_methods": tables.payment_methods_table,
        "sessions": tables.sessions_table,
    }
    for name, make in small.items():
        report(name, 0.0)
        delta = ("ts",) if name == "sessions" else ()
        counts[name] = write_parquet(make(pop), out_dir / TABLE_FILES[name], delta=delta)
        report(name, 1.0)

    parts = plan_parts(pop, ROWS_PER_PART)
    total = int(pop.n_interactions.sum())
    done = 0
    report("interactions", 0.0)
    for i, part in enumerate(interaction_parts(pop, parts)):
        path = out_dir / TABLE_FILES["interactions"] / f"part-{i:05d}.parquet"
        done += write_parquet(part, path, delta=("ts",))
        report("interactions", done / max(total, 1))
    counts["interactions"] = done

    if mode.classic:
        report("labels", 0.0)
        counts["labels"] = write_csv(tables.labels_table(pop), out_dir / TABLE_FILES["labels"])
        report("labels", 1.0)
        report("truth", 0.0)
        counts["truth"] = write_parquet(tables.truth_table(pop), out_dir / TABLE_FILES["truth"])
        report("truth", 1.0)
        counts = {name: counts[name] for name in TABLE_ORDER if name in counts}
        write_json(_manifest(pop, scale, seed, counts, len(parts)), out_dir / MANIFEST)
        n_operators, n_labelled = len(OPERATORS), sum(1 for s in OPERATORS if s.label)
    else:
        counts = _write_world_tables(pop, out_dir, counts, report)
        manifest = _world_manifest(pop, scale, seed, counts, len(parts))
        write_json(manifest, out_dir / MANIFEST)
        n_operators = len(manifest["operators"])
        n_labelled = sum(1 for o in manifest["operators"] if o["label"])
    report("done", 1.0)

    multi = sum(1 for g, d in zip(pop.groups, pop.group_is_distillation, strict=True) if not d)
    return GenerateReport(
        out_dir=out_dir,
        scale=scale,
        seed=seed,
        counts=MappingProxyType(counts),
        n_operators=n_operators,
        n_multi_account_operators=multi,
        n_labelled_operators=n_labelled,
        interaction_parts=len(parts),
        elapsed_seconds=time.perf_counter() - started,
        tradecraft=mode.text,
    )


def _write_world_tables(pop: Population, out_dir: Path, counts: dict[str, int], report: Progress) -> dict[str, int]:
    """labels (with organisation), truth (with organisation), organisations, ip_owners and the
    takeover epochs of a drawn world."""
    from sybilgraph.generate import world_tables

    report("labels", 0.0)
    counts["labels"] = write_csv(world_tables.labels_table(pop), out_dir / TABLE_FILES["labels"])
    report("labels", 1.0)
    report("truth", 0.0)
    references = [e.reference for e in pop.world.orgs]
    counts["truth"] = write_parquet(tables.truth_table(pop, references), out_dir / TABLE_FILES["truth"])
    counts["organisations"] = write_parquet(world_tables.organisations_table(pop), out_dir / WORLD_FILES["organisations"])
    counts["ip_owners"] = write_parquet(world_tables.ip_owners_table(pop), out_dir / WORLD_FILES["ip_owners"])
    write_parquet(world_tables.epochs_table(pop), out_dir / WORLD_FILES["truth_epochs"])
    report("truth", 1.0)
    return {name: counts[name] for name in TABLE_ORDER if name in counts}
