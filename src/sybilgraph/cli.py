"""The ``sybilgraph`` command: thin wiring of typer onto the packages that do the work.

Errors meant for people (SybilgraphError) are printed as one message and a non-zero exit code,
never as a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sybilgraph.errors import SybilgraphError
from sybilgraph.settings import Settings

app = typer.Typer(help="sybilgraph: who is behind a swarm of accounts.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The local Neo4j + GDS (or the server NEO4J_URI names).", no_args_is_help=True)
app.add_typer(db_app, name="db")
report_app = typer.Typer(help="Case files: what investigators hand to managers and legal.", no_args_is_help=True)
app.add_typer(report_app, name="report")

console = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])


def human_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SybilgraphError as e:
            console.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - a bug still deserves a readable message
            logging.getLogger("sybilgraph").debug("unexpected error", exc_info=True)
            console.print(f"[bold red]internal error:[/] {type(e).__name__}: {e} (run with -v for the traceback)")
            raise typer.Exit(70) from None

    return wrapper  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    if value:
        from sybilgraph import __version__

        typer.echo(f"sybilgraph {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("neo4j", "graphdatascience", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def settings() -> Settings:
    return Settings()


@contextmanager
def open_db(s: Settings, start: bool = True) -> Iterator[Any]:
    """A connected Database; starts the local Neo4j first when nothing answers and it is ours."""
    from sybilgraph.db.launcher import LocalNeo4j
    from sybilgraph.db.session import connect
    from sybilgraph.errors import DatabaseUnavailable

    try:
        db = connect(s)
    except DatabaseUnavailable:
        if not (s.uses_local_launcher and start):
            raise
        console.print(f"starting the local Neo4j + GDS on {s.bolt_uri} ...")
        LocalNeo4j(s).start()
        db = connect(s)
    try:
        yield db
    finally:
        db.close()


# -- db ------------------------------------------------------------------------------------------
@db_app.command("start")
@human_errors
def db_start() -> None:
    """Build (first time) and start the local Neo4j 5.26 + OpenGDS 2.13 in the background."""
    from sybilgraph.db.launcher import LocalNeo4j

    s = settings()
    if not s.uses_local_launcher:
        console.print(f"NEO4J_URI is set ({s.bolt_uri}): the local launcher is not used")
        return
    state = LocalNeo4j(s).start()
    out.print(f"Neo4j is up: {state.bolt_uri} (pid {state.pid}, home {state.home}); "
              f"user neo4j, password in {s.local_password_file}")


@db_app.command("build")
@human_errors
def db_build() -> None:
    """Build the local Neo4j + GDS with Maven (first time: downloads ~130 MB); install.sh runs it."""
    from sybilgraph.db.launcher import LocalNeo4j

    launcher = LocalNeo4j(settings())
    launcher.build()
    out.print(f"the local Neo4j + GDS is built in {launcher.project}")


@db_app.command("stop")
@human_errors
def db_stop() -> None:
    """Stop the local Neo4j cleanly (SIGTERM: the store is closed, no recovery at next start)."""
    from sybilgraph.db.launcher import LocalNeo4j

    stopped = LocalNeo4j(settings()).stop()
    out.print("stopped" if stopped else "not running")


@db_app.command("status")
@human_errors
def db_status() -> None:
    """Whether Neo4j answers, its Bolt URI, where its password is, and the Neo4j and GDS versions."""
    from sybilgraph.db.session import connect
    from sybilgraph.errors import DatabaseUnavailable

    s = settings()
    # Where the local Neo4j's password is (never the password itself); NEO4J_PASSWORD otherwise.
    where = {"password_file": str(s.local_password_file)} if s.uses_local_launcher else {"password": "NEO4J_PASSWORD"}
    try:
        with connect(s) as db:
            v = db.versions()
    except DatabaseUnavailable as e:
        typer.echo(json.dumps({"answers": False, "bolt_uri": s.bolt_uri, **where, "reason": str(e)}))
        raise typer.Exit(1) from None
    status = {"answers": True, "bolt_uri": s.bolt_uri, **where, "neo4j": v.neo4j, "edition": v.edition, "gds": v.gds}
    if s.browser_url:  # the local launcher serves Neo4j Browser (docs/bloom.md)
        status["browser"] = s.browser_url
    typer.echo(json.dumps(status))


@db_app.command("reset")
@human_errors
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Really empty the graph and the columnar store.")] = False) -> None:
    """Empty the graph (batched deletes) and the columnar store."""
    from sybilgraph.db.admin import reset

    if not yes:
        console.print("refusing to empty the database without --yes")
        raise typer.Exit(2)
    with open_db(settings()) as db:
        typer.echo(json.dumps(reset(db)))


# -- ingest --------------------------------------------------------------------------------------
@app.command()
@human_errors
def ingest(
    bundle: Annotated[Path | None, typer.Argument(help="Bundle directory (docs/data-contract.md).")] = None,
    withdraw: Annotated[str | None, typer.Option("--withdraw", metavar="BUNDLE_ID",
                                                 help="Withdraw the live delivery of this bundle id instead.")] = None,
    full_write: Annotated[bool, typer.Option("--full-write", help="Rewrite every graph row, not only changed ones.")] = False,
) -> None:
    """Validate and load a bundle delivery into the columnar store and Neo4j, or withdraw one.

    A bundle's id is bundle.json's bundle_id, else its directory name. Delivering an id again
    replaces its earlier delivery; the same content again changes nothing.
    """
    from sybilgraph.ingest import ingest_bundle, withdraw_bundle
    from sybilgraph.progress import reporter_for

    if (bundle is None) == (withdraw is None):
        console.print("give a bundle directory to ingest, or --withdraw BUNDLE_ID (not both)")
        raise typer.Exit(2)
    s = settings()
    with open_db(s) as db:
        if withdraw is not None:
            gone = withdraw_bundle(withdraw, s, db, reporter=reporter_for())
            timings = ", ".join(f"{k} {v:.1f}s" for k, v in gone.timings_s.items())
            out.print(f"withdrew bundle '{gone.bundle_id}' (delivery {gone.ingest_id}); graph: {gone.graph_writes}; "
                      f"state update by {gone.state_update or 'nothing'}; {timings}")
            return
        assert bundle is not None
        report = ingest_bundle(bundle, s, db, reporter=reporter_for(), full_write=full_write)
    _print_ingest_report(report)
    raise typer.Exit(report.exit_code)


def _print_ingest_report(report: Any) -> None:
    what = "unchanged" if report.reused_staging else f"replaces {report.replaced}" if report.replaced else "new"
    t = Table(title=f"ingest of bundle '{report.bundle_id}': delivery {report.ingest_id}, {what} ({report.status})")
    for col in ("table", "read", "loaded", "quarantined", "error"):
        t.add_column(col)
    for tr in report.tables.values():
        t.add_row(tr.table, f"{tr.rows_read:,}", f"{tr.rows_loaded:,}", f"{tr.rows_quarantined:,}", tr.error or "")
    out.print(t)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    if report.rows_quarantined:
        console.print(f"[yellow]{report.rows_quarantined:,} rows quarantined:[/] {report.quarantine_file}")
    for table, n in report.rows_repeated.items():
        console.print(f"{n:,} {table} rows repeated an id already counted; they count once")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings_s.items())
    out.print(f"graph writes: {report.graph_writes}; state update by {report.state_update or 'nothing'}; {timings}")
    out.print(f"report: {report.report_file}")



@app.command()
@human_errors
def deliveries(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list, one object per delivery, for scripts.")] = False,
) -> None:
    """The live deliveries, in ingest order: the bundle ids to redeliver a correction under, or to withdraw.

    Read from the columnar store and the ingest reports; no database needed.
    """
    from sybilgraph.ingest.columnar import ColumnarStore
    from sybilgraph.ingest.inventory import live_deliveries

    s = settings()
    live = live_deliveries(ColumnarStore(s.columnar_dir), s.runs_dir)
    if as_json:
        typer.echo(json.dumps([d.model_dump() for d in live], indent=1))
        return
    t = Table(title=f"Live deliveries ({len(live)}) in {s.columnar_dir}", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False)
    t.add_column("bundle id", overflow="fold", min_width=10)
    t.add_column("live since (UTC)", min_width=10)
    t.add_column("source", overflow="fold")
    for col in ("accounts", "interactions"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("quarantined", justify="right")
    for d in live:
        quarantined = _n(d.rows_quarantined) + (f" ({d.status})" if d.status == "partial" else "")
        t.add_row(escape(d.bundle_id), _utc(d.committed_at), escape(d.source or ""),
                  _n(d.rows["accounts"] if d.rows else None), _n(d.rows["interactions"] if d.rows else None),
                  quarantined)
    out.print(t)
    for d in live:
        if d.ids_counted_in:
            out.print(f"{escape(d.bundle_id)}: some of its interaction or session ids count in "
                      f"{escape(', '.join(d.ids_counted_in))} (delivered earlier); withdrawing that makes them count here")
    out.print("nothing delivered yet" if not live else
              "To correct a delivery, deliver the whole corrected bundle under the same bundle id; to take one "
              "back: sybilgraph ingest --withdraw BUNDLE_ID. More per delivery: --json.")


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _utc(iso: str | None) -> str:
    """An ISO 8601 UTC time to the minute, as people read it ("2026-11-30 21:55")."""
    return "" if iso is None else iso[:16].replace("T", " ")


# -- attribution ---------------------------------------------------------------------------------
@app.command()
@human_errors
def attribute(
    seed: Annotated[int | None, typer.Option(help="Seed for community detection (same data + seed = same partition); default: attribution.seed.")] = None,
    flag_threshold: Annotated[float | None, typer.Option(help="Campaign score at or above which an operator is flagged; default: attribution.flag_threshold.")] = None,
) -> None:
    """Link accounts to operators with GDS, score campaigns; the run becomes current when complete."""
    from sybilgraph.attribution import run_attribution
    from sybilgraph.progress import reporter_for

    s = settings()
    params = s.attribution.params(seed=seed, flag_threshold=flag_threshold)
    with open_db(s) as db:
        result = run_attribution(db, params, reporter=reporter_for())
    t = Table(title=f"attribution {result.run_id}")
    t.add_column("phase")
    t.add_column("seconds", justify="right")
    t.add_column("peak RSS (MB)", justify="right")
    for k, v in result.timings_s.items():
        t.add_row(k, f"{v:.2f}", str(result.peak_rss_mb.get(k, "")))
    out.print(t)
    typer.echo(json.dumps(result.counts))


@app.command()
@human_errors
def export(out_file: Annotated[Path, typer.Option("--out", help="CSV, or Parquet by extension.")]) -> None:
    """Write the current attribution in the contract's export format."""
    from sybilgraph.attribution import read_export, write_export

    with open_db(settings()) as db:
        table = read_export(db)
    write_export(table, out_file)
    out.print(f"wrote {table.num_rows:,} rows to {out_file}")



# -- data generation and evaluation --------------------------------------------------------------
@app.command()
@human_errors
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the bundle.")],
    scale: Annotated[float, typer.Option(help="1.0 = the reported campaign (~25k fake accounts, ~47M interactions).")] = 0.02,
    seed: Annotated[int, typer.Option(help="Same seed and scale = byte-identical bundle.")] = 1,
    tradecraft: Annotated[str, typer.Option(
        help="classic (five fixed operators), random (drawn families and knobs), or families, e.g. careful:2,vm_farm."
    )] = "classic",
) -> None:
    """Write a synthetic bundle with known truth (distillation operators hidden in a benign crowd)."""
    from sybilgraph.generate import generate_bundle

    report = generate_bundle(out_dir, scale=scale, seed=seed, tradecraft=tradecraft)
    out.print(f"wrote {out_dir}: " + ", ".join(f"{k} {v:,}" for k, v in report.counts.items())
              + f" in {report.elapsed_seconds:.1f}s")


@app.command()
@human_errors
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="A bundle directory with a truth table, or a truth file.")],
    baselines: Annotated[bool, typer.Option("--baselines", help="Also run the fraud-ring, EvilCohort and Splink baselines (Splink: pip install 'sybilgraph[eval]').")] = False,
    json_out: Annotated[Path | None, typer.Option("--json-out", help="Where to write the JSON (default: under the home).")] = None,
) -> None:
    """Score the current attribution against truth, optionally beside the peers' baselines."""
    from datetime import datetime, timezone

    from sybilgraph.evaluate import print_report
    from sybilgraph.evaluate.command import evaluate_current
    from sybilgraph.progress import reporter_for

    s = settings()
    with open_db(s) as db:
        ev = evaluate_current(db, truth, baselines=baselines, reporter=reporter_for())
    for note in ev.notes:
        console.print(f"[yellow]{note}[/yellow]")
    print_report(ev.results, console=out)
    t = Table(title="Confidence reliability (share of accounts that truly belong)")
    for col in ("confidence", "accounts", "mean confidence", "accuracy"):
        t.add_column(col)
    for b in ev.reliability:
        if b.n:
            t.add_row(f"[{b.lo:.2f}, {b.hi:.2f})", f"{b.n:,}", f"{b.mean_confidence:.3f}", f"{b.accuracy:.3f}")
    out.print(t)
    if ev.calibration_error is not None:
        out.print(f"expected calibration error: {ev.calibration_error:.4f}")
    if ev.organisations is not None:
        from sybilgraph.evaluate.report import render_organisations

        out.print(render_organisations(ev.organisations))
    path = json_out or s.runs_dir / "evaluate" / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ev.to_json())
    out.print(f"json: {path}")



@app.command("evaluate-matrix")
@human_errors
def evaluate_matrix(
    scales: Annotated[str, typer.Option(help="Comma-separated scales.")] = "0.02,0.2",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "1,2,3",
    out_file: Annotated[Path, typer.Option("--out", help="Markdown report.")] = Path("docs/evaluation.md"),
    work: Annotated[Path, typer.Option(help="Where generated bundles are kept (reused when present).")] = Path("var/eval"),
    stability: Annotated[bool, typer.Option(help="Also measure operator-id stability (re-run, +10% accounts).")] = True,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the database is emptied before every bundle.")] = False,
    draws: Annotated[str | None, typer.Option(
        "--draws", help="Random tradecraft instead of fixed seeds: SCALE:N pairs, e.g. 0.02:20,0.2:5 "
        "(seeds 1..N of generate --tradecraft random); median and worst draw per method.")] = None,
    resume_draws: Annotated[bool, typer.Option(
        "--resume", help="With --draws: keep the draws already in the --out file's JSON twin (an interrupted run).")] = False,
    baselines: Annotated[bool, typer.Option(
        help="With --draws: score the baselines (fraud rings, EvilCohort, Splink) on every draw too; "
        "--no-baselines measures sybilgraph alone (its attribution and organisations) in about half the time.")] = True,
) -> None:
    """Generate, ingest, attribute and evaluate every (scale, seed) beside the baselines; write Markdown."""
    from sybilgraph.evaluate.matrix import (
        draws_json,
        load_draws_json,
        parse_draws,
        render_draw_matrix,
        render_matrix,
        run_draws,
        run_matrix,
    )

    if not yes:
        console.print("evaluate-matrix empties the database for every bundle; pass --yes (and a dedicated SYBILGRAPH_HOME)")
        raise typer.Exit(2)
    if draws is not None:
        plan = parse_draws(draws)
        target = out_file if out_file != Path("docs/evaluation.md") else Path("docs/evaluation-random.md")
        target.parent.mkdir(parents=True, exist_ok=True)
        line = f"sybilgraph evaluate-matrix --draws {draws}{'' if baselines else ' --no-baselines'} --out {target} --yes"

        def save_draws(results: Any) -> None:  # after every draw: a long matrix keeps what it measured
            target.write_text(render_draw_matrix(results, line))
            target.with_suffix(".json").write_text(draws_json(results))

        kept = target.with_suffix(".json")
        resume = load_draws_json(kept.read_text()) if resume_draws and kept.is_file() else None
        s = settings()
        with open_db(s) as db:
            run_draws(db, plan, work, params=s.attribution.params(), log=out.print, on_draw=save_draws, resume=resume,
                      baselines=baselines)
        out.print(f"wrote {target} and {target.with_suffix('.json')}")
        return
    scale_list = [float(x) for x in scales.split(",") if x]
    seed_list = [int(x) for x in seeds.split(",") if x]
    command = f"sybilgraph evaluate-matrix --scales {scales} --seeds {seeds} --out {out_file} --yes"
    out_file.parent.mkdir(parents=True, exist_ok=True)

    def save(rows: list[Any]) -> None:  # after every bundle: a long matrix keeps what it measured
        out_file.write_text(render_matrix(rows, command))
        out_file.with_suffix(".json").write_text("[" + ",".join(r.evaluation.to_json() for r in rows) + "]")

    with open_db(settings()) as db:
        run_matrix(db, scale_list, seed_list, work, stability=stability, log=out.print, on_row=save)
    out.print(f"wrote {out_file}")


@app.command("calibrate")
@human_errors
def calibrate_cmd(
    bundles: Annotated[list[Path] | None, typer.Argument(help="Bundles with truth (generated); default: generate --draws.")] = None,
    draws: Annotated[int, typer.Option(help="Random-tradecraft bundles to generate when none are given.")] = 12,
    scale: Annotated[float, typer.Option(help="Scale of the generated bundles.")] = 0.02,
    first_seed: Annotated[int, typer.Option(help="Seed of the first generated bundle (then +1 each).")] = 1000,
    tradecraft: Annotated[str, typer.Option(help="Generator tradecraft of the generated bundles.")] = "random",
    work: Annotated[Path, typer.Option(help="Where generated bundles are kept (reused when present).")] = Path("var/calibrate"),
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write the models (default: the package's own).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the database is emptied before every bundle.")] = False,
) -> None:
    """Fit the campaign score, the confidence calibration and the organisation model on generated truth; report held-out checks."""
    from importlib import resources

    from sybilgraph.evaluate.calibrate import fit_models
    from sybilgraph.generate import generate_bundle

    if not yes:
        console.print("calibrate empties the database for every bundle; pass --yes (and a dedicated SYBILGRAPH_HOME)")
        raise typer.Exit(2)
    paths = list(bundles or [])
    if not paths:
        for i in range(draws):
            seed = first_seed + i
            path = work / f"{tradecraft}-s{scale}-seed{seed}"
            if not (path / "truth.parquet").exists():
                out.print(f"generating {path}")
                generate_bundle(path, scale=scale, seed=seed, tradecraft=tradecraft)
            paths.append(path)
    target = out_dir or Path(str(resources.files("sybilgraph.attribution").joinpath("models")))
    with open_db(settings()) as db:
        report = fit_models(db, paths, target, progress=out.print)
    out.print(report.markdown())
    out.print(f"wrote {target}/campaign_score.json, confidence.json, organisation.json, calibration.md")


@app.command("explain")
@human_errors
def explain_cmd(
    account_a: Annotated[str, typer.Argument(help="An account id.")],
    account_b: Annotated[str, typer.Argument(help="Another account id.")],
    run: Annotated[str | None, typer.Option(help="Run id (default: the current run).")] = None,
) -> None:
    """Why two accounts are (or are not) one operator: the current run's evidence model, comparison by comparison."""
    from sybilgraph.attribution.explain import explain_pair

    with open_db(settings()) as db:
        rows, summary = explain_pair(db, account_a, account_b, run)
    table = Table(title=summary)
    for col in ("comparison", "level", "m", "u", "weight (bits)", "cumulative", "probability"):
        table.add_column(col, justify="right" if col not in ("comparison", "level") else "left")
    for r in rows:
        table.add_row(
            r.comparison, r.level, "" if r.m is None else f"{r.m:.4g}", "" if r.u is None else f"{r.u:.3g}",
            f"{r.weight:+.2f}", f"{r.cumulative:+.2f}", f"{r.probability:.4f}",
        )
    out.print(table)


@app.command("bench-ingest")
@human_errors
def bench_ingest_cmd(
    bundle: Annotated[Path, typer.Argument(help="Bundle to ingest (>= 1M interactions makes a fair measurement).")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the database is emptied first.")] = False,
    delivery_share: Annotated[float | None, typer.Option(
        help="Instead: ingest all but this share of the accounts, then a delivery of that share, its "
             "redelivery and its withdrawal, each timed as a share of the full ingest (e.g. 0.01); twice: right after the "
             "full ingest, then again on the running server.")] = None,
) -> None:
    """Benchmark ingest against the time pyarrow takes merely to read the same files."""
    from sybilgraph.bench.ingest_bench import bench_incremental, bench_ingest

    if not yes:
        console.print("bench-ingest empties the database first; pass --yes (and a dedicated SYBILGRAPH_HOME)")
        raise typer.Exit(2)
    if delivery_share is not None and not 0 < delivery_share < 1:
        console.print("--delivery-share is a share of the accounts, between 0 and 1 (e.g. 0.01)")
        raise typer.Exit(2)
    s = settings()
    with open_db(s) as db:
        if delivery_share is not None:
            result = bench_incremental(db, bundle, delivery_share, s.home / "bench" / "deliveries")
            out.print_json(data=result.as_dict())
            return
        bench, _ = bench_ingest(db, bundle)
    out.print_json(data=bench.as_dict())



@app.command("evaluate-organisations")
@human_errors
def evaluate_organisations_cmd(
    bundles: Annotated[list[Path], typer.Argument(help="Generated bundles (with truth and the generator's manifest).")],
    models: Annotated[str, typer.Option(help="Directory holding the organisation.json to use (default: the package's).")] = "",
    out_json: Annotated[Path | None, typer.Option("--out", help="Also write the per-bundle counts as JSON.")] = None,
) -> None:
    """The organisation step alone on bundles' true operators (staged without Neo4j), scored like evaluate-matrix."""
    from sybilgraph.evaluate.organisations_truth import evaluate_organisations, pooled

    for b in bundles:
        if not (b / "truth.parquet").is_file():
            raise SybilgraphError(f"{b}: no truth.parquet (evaluate-organisations takes generated bundles)")
    results = evaluate_organisations(bundles, models, progress=out.print)
    t = Table(title="organisation step on the true operators")
    cols = ("bundle", "with a trail", "asserted", "correct", "no trail, asserted", "decoy top", "hypotheses", "candidates")
    for col in cols:
        t.add_column(col, justify="left" if col == "bundle" else "right")
    for r in results:
        c = r.counts()
        t.add_row(r.bundle, str(c["trail"]), str(c["asserted"]), str(c["correct"]), f"{c['no_trail_asserted']} / {c['no_trail']}",
                  str(c["decoy_top"]), str(c["hypotheses"]), f"{r.candidates:,}")
    total = pooled(results)
    t.add_row("pooled", str(total["trail"]), str(total["asserted"]), str(total["correct"]),
              f"{total['no_trail_asserted']} / {total['no_trail']}", str(total["decoy_top"]), str(total["hypotheses"]), "")
    out.print(t)
    ratio = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    worst = total["worst_recall"]
    out.print(f"precision {ratio(total['precision'])}, recall {ratio(total['recall'])}"
              + (f" (worst bundle {worst[1]}: {worst[0]:.3f})" if worst else ""))
    if out_json is not None:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps({"bundles": [{"bundle": r.bundle, **r.counts(), "candidates": r.candidates,
                                                     "operator_prior": r.operator_prior} for r in results],
                                        "pooled": {k: v for k, v in total.items() if k != "worst_recall"}}, indent=1) + "\n")
        out.print(f"json: {out_json}")


@app.command("bench-organisations")
@human_errors
def bench_organisations_cmd(
    truth: Annotated[Path | None, typer.Option(
        "--truth", help="A generated bundle: its true operators stand in for attribution's (no attribution run needed).")] = None,
    repeat: Annotated[int, typer.Option(min=1, help="How many times the step runs (the best counts).")] = 2,
    out_json: Annotated[Path | None, typer.Option("--out", help="Also write the result as JSON.")] = None,
) -> None:
    """Time the organisation step alone on the ingested home, against reading attribution's inputs."""
    from sybilgraph.bench.organisations_bench import bench_organisations, current_run_operators, truth_operators

    s = settings()
    decisions: list[Any] = []
    if truth is not None:
        membership, operators = truth_operators(truth)
        source = f"truth of {truth}"
    else:
        with open_db(s) as db:
            run_id, membership, operators = current_run_operators(db)
            decisions = db.read("attribution/read_organisation_decisions")
        source = f"current run {run_id}"
    bench = bench_organisations(s, membership, operators, source, repeat=repeat, decisions=decisions)
    t = Table(title=f"organisation step: {bench.operators:,} operators ({source}), {bench.accounts:,} accounts")
    for col in ("reading the inputs s", "organisation step s (each run)", "step / reading", "peak RSS above, MB", "candidates", "hypotheses"):
        t.add_column(col, justify="right")
    t.add_row(f"{bench.read_inputs_s:.2f}", ", ".join(f"{x:.2f}" for x in bench.step_s), f"{bench.ratio_to_read:.2f}x",
              "" if bench.peak_rss_above_mb is None else f"{bench.peak_rss_above_mb:,.0f}",
              f"{bench.counts.get('organisation_candidates', 0):,}", f"{bench.counts.get('organisation_hypotheses', 0):,}")
    out.print(t)
    if out_json is not None:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(bench.as_dict(), indent=1) + "\n")
        out.print(f"json: {out_json}")


@app.command("bench")
@human_errors
def bench_cmd(
    scale: Annotated[list[float], typer.Option("--scale", help="Bundle scale; repeat for several (e.g. 0.05, 0.2, 1.0).")],
    seed: Annotated[int, typer.Option(help="Generator seed of the bundles.")] = 1,
    bundles: Annotated[Path, typer.Option(help="Where bundles are kept: DIR/s<scale>-seed<seed>, reused when whole.")] = Path("var/bench/bundles"),
    out_dir: Annotated[Path, typer.Option("--out", help="Results directory (JSON + Markdown per run).")] = Path("bench/results"),
    docs: Annotated[Path | None, typer.Option(help="Page whose bench section (and plot beside it) is regenerated; '' for none.")] = Path("docs/benchmarks.md"),
    fresh_store: Annotated[bool | None, typer.Option("--fresh-store/--keep-store", help="Recreate the local Neo4j store for each scale (default: when the local Neo4j is used).")] = None,
    api_requests: Annotated[int, typer.Option(help="Requests per workload and client count in the API probe.")] = 200,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the database is emptied for every scale.")] = False,
) -> None:
    """Whole pipeline (ingest, attribute, export, API) per scale beside its floors; JSON, Markdown, plot."""
    from sybilgraph.bench.command import bench_command
    from sybilgraph.bench.goals import check_goals
    from sybilgraph.bench.pipeline_bench import BenchOptions, server_for

    if not yes:
        console.print("bench empties the database for every scale; pass --yes (and a dedicated SYBILGRAPH_HOME)")
        raise typer.Exit(2)
    s = settings()
    fresh = s.uses_local_launcher if fresh_store is None else fresh_store
    if fresh and not s.uses_local_launcher:
        console.print("--fresh-store needs the local Neo4j (NEO4J_URI is set)")
        raise typer.Exit(2)
    options = BenchOptions(scales=tuple(scale), seed=seed, bundles=bundles, fresh_store=fresh, api_requests=api_requests)
    command = "sybilgraph bench " + " ".join(f"--scale {x:g}" for x in scale) + f" --seed {seed} --yes"
    docs_path = docs if docs and str(docs) not in ("", ".") else None
    with open_db(s) as db:
        run, files = bench_command(db, server_for(s), options, out_dir, docs_path, command, log=out.print)
    out.print(f"wrote {files.json} and {files.markdown}" + (f"; {files.docs} and {files.svg}" if files.svg else ""))
    for r in run.scales:
        for g in check_goals(r):
            out.print(f"scale {r.scale:g}: {g.goal}: {g.measured} ({'met' if g.met else 'not measured' if g.met is None else 'MISSED'})"
                      + (f"; dominated by {g.dominant}" if g.dominant else ""))



# -- serving -------------------------------------------------------------------------------------
@app.command()
@human_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    production: Annotated[bool | None, typer.Option(
        "--production/--dev",
        help="Production (the default, or SYBILGRAPH_API_PRODUCTION): strong keys, no introspection or GraphiQL. "
             "--dev: demo keys when none are set, GraphiQL, introspection; never on a shared machine.")] = None,
) -> None:
    """Serve the GraphQL API for investigators at /graphql (docs/api.md)."""
    import uvicorn

    from sybilgraph.api import create_app
    from sybilgraph.api.runner import run_attribution_with_defaults
    from sybilgraph.db.launcher import LocalNeo4j

    s = settings()
    # Built first: a configuration production refuses stops here, before anything starts.
    api = create_app(s, production=production, run_attribution=run_attribution_with_defaults)
    if s.uses_local_launcher and not LocalNeo4j(s).state().running:
        console.print(f"starting the local Neo4j + GDS on {s.bolt_uri} ...")
        LocalNeo4j(s).start()
    # proxy_headers off: the API reads X-Forwarded-For itself, only through its trusted proxies.
    uvicorn.run(api, host=host, port=port, proxy_headers=False, log_level="info")


audit_app = typer.Typer(help="The API's audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@human_errors
def audit_verify(
    path: Annotated[Path | None, typer.Argument(help="The log (default: the server's, SYBILGRAPH_API_AUDIT_PATH or <home>/audit/audit.jsonl).")] = None,
    head: Annotated[str | None, typer.Option(help="A head hash kept elsewhere: the log must end there.")] = None,
    checkpoint: Annotated[bool, typer.Option("--checkpoint/--no-checkpoint", help="Compare with the head the server keeps in Neo4j.")] = True,
) -> None:
    """Check the audit log: every record's keyed hash and link, and the head checkpointed in Neo4j.

    Prints one JSON report; exits 1 at the first edited, removed, reordered or rewritten record.
    """
    from sybilgraph.api.audit_verify import verify_audit_log

    s = settings()
    report = verify_audit_log(s, s.api, path, expected_head=head, use_checkpoint=checkpoint)
    out.print_json(data=report.as_dict())
    if not report.ok:
        raise typer.Exit(1)


# -- case files ----------------------------------------------------------------------------------
@report_app.command("operator")
@human_errors
def report_operator(
    operator_id: Annotated[str, typer.Argument(help="The operator's id (op-...).")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the case file.")] = Path("case.html"),
    fmt: Annotated[str, typer.Option("--format", help="html, or pdf (needs Chromium).")] = "html",
    role: Annotated[str, typer.Option(help="Mask identifiers as this API role sees them: viewer, analyst or admin.")] = "analyst",
    members: Annotated[int, typer.Option(help="Member rows to embed in the members table.")] = 2_000,
) -> None:
    """One operator's case file: summary, evidence, behaviour, members, provenance (docs/report.md)."""
    import time

    from sybilgraph.errors import ConfigError
    from sybilgraph.report.command import CaseKeys, report_command, save_case, write_audited_case

    if fmt not in ("html", "pdf"):
        raise ConfigError(f"--format must be html or pdf, not {fmt!r}")
    s = settings()
    keys = CaseKeys.from_settings(s.api)  # refuses in production without the API's mask and audit keys
    for warning in keys.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    started = time.perf_counter()
    with open_db(s) as db:
        case, html = write_audited_case(db.read, s, keys, operator_id, role, report_command(operator_id, out_file, fmt, role),
                                        members)
    save_case(html, out_file, fmt)  # type: ignore[arg-type]
    out.print(f"wrote {out_file} ({fmt}, masked for {role}): operator {operator_id}, "
              f"{case.members_total:,} accounts, {len(case.identifiers)} identifiers, in {time.perf_counter() - started:.1f}s")


# -- scheduled jobs ------------------------------------------------------------------------------
@app.command()
@human_errors
def scheduler(
    check: Annotated[bool, typer.Option("--check", help="Health check: exit 0 when this host's scheduler is alive.")] = False,
) -> None:
    """Watch the inbox, ingest bundles, place new accounts at once, attribute on a schedule (docs/jobs.md)."""
    if check:
        from sybilgraph.jobs.health import check_health

        healthy, message = check_health(settings())
        (out if healthy else console).print(message)
        raise typer.Exit(0 if healthy else 1)
    from sybilgraph.jobs import main as scheduler_main

    raise typer.Exit(scheduler_main(settings()))


@app.command()
@human_errors
def runs(limit: Annotated[int, typer.Option(help="How many attribution runs to show.")] = 15) -> None:
    """Attribution run history, scheduled job state and locks."""
    from sybilgraph.jobs import runs_table

    with open_db(settings()) as db:
        out.print(runs_table(db, limit=limit))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
