"""``sybilgraph evaluate-matrix``: the evaluation table of docs/evaluation.md, reproducibly.

For every (scale, seed): generate the bundle, empty the database, ingest, attribute, evaluate
beside the baselines, check the acceptance bounds, then

* re-attribute with other sorted-neighbourhood orders (``order_salt``) and check the bounds
  again: results must not hinge on one lucky pseudo-random order;
* measure operator-id stability twice: re-running attribution on unchanged data, and
  attributing again after ingesting 10% more accounts of the existing operators (held out of
  the first ingest).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import duckdb
import pandas as pd

from sybilgraph.attribution import AttributionParams, run_attribution
from sybilgraph.contract import TABLE_ORDER
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.errors import ConfigError
from sybilgraph.evaluate.calibrate import (
    TrainingSet,
    collect_training,
    leave_one_family_out,
    lofo_markdown,
    operator_families,
)
from sybilgraph.evaluate.command import Evaluation, evaluate_current
from sybilgraph.evaluate.draws import (
    DrawScore,
    organisation_draw_metrics,
    render_bounds,
    render_draws,
    render_organisation_draws,
)
from sybilgraph.evaluate.metrics import EvaluationResult
from sybilgraph.evaluate.report import render_markdown
from sybilgraph.evaluate.stability import IdStability, ids_kept, same_operator_share
from sybilgraph.generate import generate_bundle
from sybilgraph.ingest import ingest_bundle
from sybilgraph.ingest.readers import find_table_files

__all__ = [
    "Bound", "BOUNDS", "MatrixRow", "run_matrix", "ACCEPTANCE", "DRAW_ACCEPTANCE", "check_acceptance", "split_bundle",
    "draw_scores", "parse_draws", "DrawResults", "run_draws", "render_draw_matrix", "draws_json", "load_draws_json",
]

@dataclass(frozen=True)
class Bound:
    """One bound of the attribution issue: ``key``'s value ``op`` (">=" or "<=") the bound, on
    the fixed seeds (``fixed``) and in the worst of the random draws (``draws``); None where
    that evaluation does not carry it."""

    label: str
    key: str
    op: str
    fixed: float | None
    draws: float | None


# The bounds, in the order the tables show them. Over random draws (the issue's
# "evaluation that resists overfitting") each must hold in the worst draw, and instead of the
# worst campaign's recall, every operator's recall must be >= 0.95 in at least
# EVERY_OPERATOR_SHARE of the draws.
BOUNDS: tuple[Bound, ...] = (
    Bound("flag precision", "flag_precision", ">=", 0.99, 0.99),
    Bound("flag recall", "flag_recall", ">=", 0.98, 0.98),
    Bound("worst campaign recall", "min_operator_recall", ">=", 0.95, None),
    Bound("benign flagged", "benign_flagged_share", "<=", 0.0005, 0.0005),
    Bound("ARI fake accounts", "fake_ari", ">=", 0.95, 0.95),
    Bound("pair precision, all operators", "all_pair_precision", ">=", 0.90, 0.95),
    Bound("pair recall, all operators", "all_pair_recall", ">=", 0.80, None),
    Bound("label coverage", "min_label_coverage", ">=", 0.95, 0.95),
    Bound("ECE", "ece", "<=", None, 0.03),
    Bound("large open customer flagged", "large_open_flagged", "<=", None, 0.0),
)
# The same bounds as (label, metric key, comparison, bound), per evaluation.
ACCEPTANCE: tuple[tuple[str, str, str, float], ...] = tuple(
    (b.label, b.key, b.op, b.fixed) for b in BOUNDS if b.fixed is not None
)
DRAW_ACCEPTANCE: tuple[tuple[str, str, str, float], ...] = tuple(
    (b.label, b.key, b.op, b.draws) for b in BOUNDS if b.draws is not None
)
EVERY_OPERATOR_SHARE = 0.95


# What every table's baseline rows are; the same text heads docs/evaluation.md.
BASELINES_MD: tuple[str, ...] = (
    "Baselines: **fraud rings** (connected components over shared cards, devices and IPs; rings",
    "of >= 20 accounts flagged) and **EvilCohort** (Louvain over the shared-IP account graph;",
    "cohorts of >= 10 flagged), both on the links the graph holds; **Splink** 4 (Fellegi-Sunter",
    "with EM, DuckDB backend; `pip install -e '.[eval]'`), set up as its documentation sets up a",
    "deduplication job: one record per account with arrays of its cards, BINs, devices, IPs,",
    "subnets, TLS clients, user agents and templates, array-intersection comparisons by size,",
    "term-frequency-adjusted exact match on e-mail domain and country, exploding blocking rules",
    "on shared identifiers, u from random pairs, m by EM, clusters at match probability 0.9.",
    "Splink has no campaign score: a cluster of >= 20 accounts is flagged (the fraud-ring cut).",
    "Setup: `src/sybilgraph/evaluate/splink_baseline.py`.",
)


def _metrics(r: EvaluationResult) -> dict[str, float]:
    cov = [c.coverage for c in r.label_coverage if c.coverage is not None]
    return {
        "flag_precision": r.flagging.precision or 0.0,
        "flag_recall": r.flagging.recall or 0.0,
        "min_operator_recall": r.min_operator_recall or 0.0,
        "benign_flagged_share": r.flagging.benign_flagged_share or 0.0,
        "fake_ari": r.fake_assignment.ari or 0.0,
        "all_pair_precision": r.operator_assignment.pair_precision or 0.0,
        "all_pair_recall": r.operator_assignment.pair_recall or 0.0,
        "min_label_coverage": min(cov) if cov else 0.0,
    }


def draw_scores(ev: Evaluation, seed: int, families: Mapping[str, str]) -> list[DrawScore]:
    """Every method of one draw as a :class:`DrawScore` (``families``: true operator -> family,
    from the draw's generator.json); sybilgraph's also carries the draw's organisation counts
    (:func:`sybilgraph.evaluate.draws.organisation_draw_metrics`), the baselines name no organisation."""
    out = []
    for i, r in enumerate(ev.results):
        metrics: dict[str, float | None] = dict(_metrics(r))
        metrics["ece"] = ev.method_calibration_errors.get(r.method)
        shares = ev.open_customers_flagged.get(r.method, {})
        metrics["large_open_flagged"] = float(any(v > 0 for v in shares.values())) if shares else None
        if i == 0 and ev.organisations is not None:
            metrics.update(organisation_draw_metrics(ev.organisations))
        out.append(DrawScore(
            method=r.method, seed=seed, metrics=metrics,
            operator_recall={o.operator: o.recall for o in r.recall_by_operator},
            operator_family=dict(families),
            organisation_outcomes=[o.model_dump(mode="json") for o in ev.organisations.operators]
            if i == 0 and ev.organisations is not None else [],
        ))
    return out


def check_acceptance(r: EvaluationResult) -> dict[str, bool]:
    return _check(_metrics(r))


def _check(m: dict[str, float]) -> dict[str, bool]:
    return {
        label: (m[key] >= bound if op == ">=" else m[key] <= bound) for label, key, op, bound in ACCEPTANCE
    }


def _failed(m: dict[str, float]) -> list[str]:
    return [label for label, ok in _check(m).items() if not ok]


def _metric_cells(m: dict[str, float]) -> str:
    """The quality columns every table of the page shares, in the summary's order."""
    return (f"{m['flag_precision']:.4f} | {m['flag_recall']:.4f} | {m['min_operator_recall']:.4f} | "
            f"{100 * m['benign_flagged_share']:.3f}% | {m['fake_ari']:.4f} | {m['all_pair_precision']:.4f} | "
            f"{m['all_pair_recall']:.4f} | {m['min_label_coverage']:.3f}")


@dataclass
class MatrixRow:
    scale: float
    seed: int
    evaluation: Evaluation
    timings_s: dict[str, float] = field(default_factory=dict)
    rerun_same_operator: float | None = None
    growth: IdStability | None = None
    # Metrics of the re-runs with other sorted-neighbourhood orders, per salt.
    order_runs: dict[str, dict[str, float]] = field(default_factory=dict)

    def orders_meet_bounds(self) -> bool | None:
        if not self.order_runs:
            return None
        return not any(_failed(m) for m in self.order_runs.values())


def split_bundle(bundle: Path, out: Path, holdout: float = 1 / 11, seed: int = 0) -> tuple[Path, Path]:
    """(base, delta): delta holds ``holdout`` of each true multi-account operator's accounts,
    with all their rows; base holds everything else. Ingesting delta after base adds ~10% more
    accounts to the existing operators."""
    base, delta = out / "base", out / "delta"
    for d in (base, delta):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    con = duckdb.connect()
    truth = con.read_parquet(str(bundle / "truth.parquet")).to_arrow_table()
    con.register("truth", truth)
    held = con.sql(
        "SELECT account_id FROM truth WHERE operator LIKE 'DIST-%' "
        "AND (hash(account_id || ?) % 1000) < ?",
        params=[str(seed), int(holdout * 1000)],
    ).to_arrow_table()
    con.register("held", held)
    for table in TABLE_ORDER:
        for path in find_table_files(bundle, table):
            rel = path.relative_to(bundle)
            reader = con.read_csv(str(path), all_varchar=True) if ".csv" in path.name else con.read_parquet(str(path))
            con.register("t", reader.to_arrow_table())
            for target, op in ((base, "NOT IN"), (delta, "IN")):
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                rows = con.sql(f"SELECT * FROM t WHERE account_id {op} (SELECT account_id FROM held)").to_arrow_table()
                if ".csv" in path.name:
                    import pyarrow.csv as pacsv

                    pacsv.write_csv(rows, dest)
                else:
                    import pyarrow.parquet as pq

                    pq.write_table(rows, dest)
    con.close()
    return base, delta


def _assignment(db: Database, run_id: str) -> dict[str, str]:
    return {r["account_id"]: r["operator_id"] for r in db.read("attribution/read_run_assignment", run_id=run_id)}


def run_matrix(
    db: Database,
    scales: list[float],
    seeds: list[int],
    work: Path,
    stability: bool = True,
    params: AttributionParams | None = None,
    log: object = print,
    on_row: object = None,
    order_salts: tuple[str, ...] = ("a", "b"),
) -> list[MatrixRow]:
    """Every (scale, seed); stability and order robustness are measured for every one."""
    rows: list[MatrixRow] = []
    base_params = params or AttributionParams()
    for scale in scales:
        for seed in seeds:
            bundle = work / f"s{scale}-seed{seed}"
            if not (bundle / "truth.parquet").exists():
                generate_bundle(bundle, scale=scale, seed=seed)
            row_t: dict[str, float] = {}
            reset(db)
            t0 = time.perf_counter()
            ingest_bundle(bundle, db.settings, db)
            row_t["ingest"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            first = run_attribution(db, base_params)
            row_t["attribute"] = time.perf_counter() - t0
            ev = evaluate_current(db, bundle, baselines=True)
            row = MatrixRow(scale, seed, ev, {k: round(v, 2) for k, v in row_t.items()})
            for salt in order_salts:
                run_attribution(db, replace(base_params, order_salt=salt))
                row.order_runs[salt] = _metrics(evaluate_current(db, bundle).results[0])
            if stability:
                again = run_attribution(db, base_params)
                row.rerun_same_operator = same_operator_share(
                    _assignment(db, first.run_id), _assignment(db, again.run_id)
                )
                row.growth = _growth(db, bundle, work, base_params)
            rows.append(row)
            log(f"scale {scale} seed {seed}: {check_acceptance(ev.results[0])}")  # type: ignore[operator]
            if on_row is not None:
                on_row(rows)  # type: ignore[operator]
    return rows


def _growth(db: Database, bundle: Path, work: Path, params: AttributionParams) -> IdStability:
    base, delta = split_bundle(bundle, work / f"{bundle.name}-split")
    reset(db)
    ingest_bundle(base, db.settings, db)
    before = run_attribution(db, params)
    flagged_before = {r["operator_id"] for r in db.read("attribution/read_flagged_operators", run_id=before.run_id)}
    assignment_before = _assignment(db, before.run_id)
    ingest_bundle(delta, db.settings, db)
    after = run_attribution(db, params)
    truth = duckdb.read_parquet(str(bundle / "truth.parquet")).select("account_id", "operator").fetchall()
    return ids_kept(assignment_before, _assignment(db, after.run_id), dict(truth), flagged_before)


def render_matrix(rows: list[MatrixRow], command: str) -> str:
    out = [
        "# Evaluation",
        "",
        "Produced by:",
        "",
        f"```\n{command}\n```",
        "",
        "Each row: a generated bundle (`sybilgraph generate --scale S --seed N`), ingested into an",
        "empty database, attributed, and scored against its truth beside the baselines, all in",
        "one run. Acceptance bounds (attribution issue): flag precision >= 0.99, flag recall >= 0.98,",
        "every campaign's recall >= 0.95, benign flagged <= 0.05%, ARI among fake accounts >= 0.95,",
        "pairwise precision among all true multi-account operators >= 0.90 and recall >= 0.80,",
        "label coverage >= 0.95.",
        "",
        *BASELINES_MD,
        "",
        "## Summary",
        "",
        "| scale | seed | method | flag P | flag R | worst campaign R | benign flagged | ARI fake | pair P all | pair R all | label cov. | runtime s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for r in row.evaluation.results:
            out.append(
                f"| {row.scale} | {row.seed} | {r.method} | {_metric_cells(_metrics(r))} | "
                f"{r.runtime_s if r.runtime_s is not None else float('nan'):.2f} |"
            )
    out += ["", "## Acceptance and stability (sybilgraph)", "",
            "| scale | seed | all bounds met | failed | bounds met with other orders | same operator on re-run | ids kept after +10% accounts: true operators / flagged / all | ECE | ingest s | attribute s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        failures = _failed(_metrics(row.evaluation.results[0]))
        failed = ", ".join(failures) or "-"
        rerun = f"{row.rerun_same_operator:.4f}" if row.rerun_same_operator is not None else "-"
        g = row.growth
        growth = (f"{g.true_operator_ids:.4f} ({g.n_true_operator}) / {g.flagged_ids:.4f} ({g.n_flagged}) / "
                  f"{g.all_ids:.4f} ({g.n_all})" if g is not None else "-")
        ece = f"{row.evaluation.calibration_error:.4f}" if row.evaluation.calibration_error is not None else "-"
        orders = row.orders_meet_bounds()
        orders_txt = "-" if orders is None else (f"yes ({len(row.order_runs)})" if orders else "NO: " + ", ".join(
            f"{salt}: " + ", ".join(_failed(m)) for salt, m in row.order_runs.items() if _failed(m)))
        out.append(f"| {row.scale} | {row.seed} | {'NO' if failures else 'yes'} | {failed} | {orders_txt} | {rerun} | "
                   f"{growth} | {ece} | {row.timings_s.get('ingest', 0):.1f} | {row.timings_s.get('attribute', 0):.1f} |")
    if any(row.order_runs for row in rows):
        out += ["", "## Other sorted-neighbourhood orders (sybilgraph)", "",
                "The same ingest re-attributed with other pseudo-random orders of the candidate-pair",
                "passes (`order_salt`); the acceptance bounds must hold for each.", "",
                "| scale | seed | order salt | flag P | flag R | worst campaign R | benign flagged | ARI fake | pair P all | pair R all | label cov. |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in rows:
            for salt, m in row.order_runs.items():
                out.append(f"| {row.scale} | {row.seed} | {salt} | {_metric_cells(m)} |")
    out += ["", "## Confidence reliability (sybilgraph, all runs pooled)", "",
            "| confidence | accounts | mean confidence | share that truly belong |", "|---|---|---|---|"]
    pooled: dict[tuple[float, float], list[float]] = {}
    for row in rows:
        for b in row.evaluation.reliability:
            if b.n:
                acc = pooled.setdefault((b.lo, b.hi), [0, 0.0, 0.0])
                acc[0] += b.n
                acc[1] += b.n * (b.mean_confidence or 0)
                acc[2] += b.n * (b.accuracy or 0)
    for (lo, hi), (n, c, a) in sorted(pooled.items()):
        out.append(f"| [{lo:.2f}, {hi:.2f}) | {int(n):,} | {c / n:.3f} | {a / n:.3f} |")
    if rows:
        out += ["", "## Detail of the last run", "", render_markdown(rows[-1].evaluation.results, title=None)]
    return "\n".join(out) + "\n"


def parse_draws(text: str) -> dict[float, int]:
    """``"0.02:20,0.2:5"`` -> {0.02: 20, 0.2: 5} (scale: number of random draws)."""
    out: dict[float, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        scale, sep, n = part.partition(":")
        if not sep or not n.strip().isdigit() or int(n) < 1:
            raise ConfigError(f"--draws: {part!r} is not SCALE:N (e.g. 0.02:20)")
        out[float(scale)] = int(n)
    if not out:
        raise ConfigError("--draws: no SCALE:N given (e.g. 0.02:20,0.2:5)")
    return out


@dataclass
class DrawResults:
    """Every method's scores per draw, and per scale the operators attribution found in the draws
    (features, truth, family: :func:`sybilgraph.evaluate.calibrate.collect_training`) with the
    leave-one-family-out table fitted on them."""

    scores: dict[float, list[DrawScore]] = field(default_factory=dict)
    training: dict[float, TrainingSet] = field(default_factory=dict)
    lofo: dict[float, pd.DataFrame] = field(default_factory=dict)


def run_draws(
    db: Database,
    draws: Mapping[float, int],
    work: Path,
    params: AttributionParams | None = None,
    log: Callable[[str], object] = print,
    on_draw: Callable[[DrawResults], object] | None = None,
    tradecraft: str = "random",
    resume: DrawResults | None = None,
    baselines: bool = True,
) -> DrawResults:
    """For every scale, seeds 1..N of ``generate --tradecraft random``: ingest into an empty
    database, attribute, evaluate beside every baseline (``baselines=False``: sybilgraph alone,
    about half the time a draw); after every draw, the leave-one-family-out table of the scale's
    draws so far. The same ``params`` for every draw and family. Draws already in ``resume``
    (kept by an interrupted run of the same code) are not run again."""
    params = params or AttributionParams()
    results = resume or DrawResults()
    total, done, t_start = sum(draws.values()), 0, time.perf_counter()
    for scale, n in draws.items():
        kept = {s.seed for s in results.scores.get(scale, [])}
        for seed in range(1, n + 1):
            if seed in kept:
                done += 1
                continue
            t0 = time.perf_counter()
            bundle = work / f"{tradecraft}-s{scale}-seed{seed}"
            if not (bundle / "truth.parquet").exists():
                generate_bundle(bundle, scale=scale, seed=seed, tradecraft=tradecraft)
            # Empties the database, ingests, attributes (one run, kept current for the evaluation).
            found = collect_training(db, bundle, params)
            ev = evaluate_current(db, bundle, baselines=baselines)
            results.scores.setdefault(scale, []).extend(draw_scores(ev, seed, operator_families(bundle)))
            training = results.training.setdefault(scale, TrainingSet())
            training.extend(found)
            if len(training.operators):
                results.lofo[scale] = leave_one_family_out(training.operators, params)
            done += 1
            mine = _metrics(ev.results[0])
            log(f"[{done}/{total}] scale {scale} seed {seed} in {time.perf_counter() - t0:.0f} s "
                f"(elapsed {time.perf_counter() - t_start:.0f} s): sybilgraph flag P {mine['flag_precision']:.4f} "
                f"R {mine['flag_recall']:.4f}, worst operator R {mine['min_operator_recall']:.4f}"
                + ("" if ev.organisations is None else
                   f"; organisations: {ev.organisations.n_trail_correct} correct of {ev.organisations.n_trail_asserted} "
                   f"asserted, {ev.organisations.n_trail} with a trail, {ev.organisations.n_no_trail_asserted} of "
                   f"{ev.organisations.n_no_trail} without one asserted"))
            if on_draw is not None:
                on_draw(results)
    return results


def draws_json(results: DrawResults) -> str:
    """Every draw's scores, the operators found (features, truth, family) and the
    leave-one-family-out tables: what the Markdown summarises, to re-read without re-running."""
    return json.dumps({
        str(scale): {
            "scores": [asdict(s) for s in results.scores.get(scale, [])],
            "operators": json.loads(results.training[scale].operators.to_json(orient="records"))
            if scale in results.training else [],
            "lofo": json.loads(results.lofo[scale].to_json(orient="records")) if scale in results.lofo else [],
        }
        for scale in results.scores
    }, indent=1)


def load_draws_json(text: str) -> DrawResults:
    """What :func:`draws_json` kept, back as :class:`DrawResults` (to render again)."""
    results = DrawResults()
    for scale_text, kept in json.loads(text).items():
        scale = float(scale_text)
        results.scores[scale] = [DrawScore(**s) for s in kept["scores"]]
        results.training[scale] = TrainingSet(pd.DataFrame(kept["operators"]))
        if kept["lofo"]:
            results.lofo[scale] = pd.DataFrame(kept["lofo"])
    return results


def render_draw_matrix(results: DrawResults, command: str) -> str:
    out = ["# Evaluation over random tradecraft", "", "Produced by:", "", f"```\n{command}\n```", "",
           "Each draw: `sybilgraph generate --tradecraft random --scale S --seed N` (3-7 operators of",
           "drawn families and knobs in a drawn benign crowd), ingested into an empty database,",
           "attributed and scored beside the baselines in one run. Parameters are never set per",
           "family or per draw.", "", *BASELINES_MD, ""]
    for scale, s in results.scores.items():
        out += [render_draws(s, f"Scale {scale}"), "",
                "Worst draw against the acceptance bounds (a bound holds only if the worst draw meets it;",
                "the last column: sybilgraph's worst draw at least as good as Splink's):", "",
                render_bounds(s, DRAW_ACCEPTANCE, EVERY_OPERATOR_SHARE, rival="splink")]
        orgs = render_organisation_draws(s)
        if orgs:
            out += [orgs, ""]
        lofo = results.lofo.get(scale)
        if lofo is not None and len(lofo):
            out += ["Leave-one-family-out (`sybilgraph calibrate`'s fit, on the operators attribution",
                    "found in these draws): for each family, the campaign score is fitted without",
                    "that family's operators and scored on them alone. Campaign families should stay",
                    "flagged, benign ones unflagged.", "", *lofo_markdown(lofo), ""]
    return "\n".join(out)
