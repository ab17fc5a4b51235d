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
from rich.console import Console
from rich.table import Table

from sybilgraph.errors import SybilgraphError
from sybilgraph.settings import Settings

app = typer.Typer(help="sybilgraph: who is behind a swarm of accounts.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The local Neo4j + GDS (or the server NEO4J_URI names).", no_args_is_help=True)
app.add_typer(db_app, name="db")

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


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False) -> None:
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
    out.print(f"Neo4j is up: {state.bolt_uri} (pid {state.pid}, home {state.home})")


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
    """Whether Neo4j answers, its Bolt URI, and the Neo4j and GDS versions."""
    from sybilgraph.db.session import connect
    from sybilgraph.errors import DatabaseUnavailable

    s = settings()
    try:
        with connect(s) as db:
            v = db.versions()
    except DatabaseUnavailable as e:
        out.print(json.dumps({"answers": False, "bolt_uri": s.bolt_uri, "reason": str(e)}))
        raise typer.Exit(1) from None
    out.print(json.dumps({"answers": True, "bolt_uri": s.bolt_uri, "neo4j": v.neo4j, "edition": v.edition, "gds": v.gds}))


@db_app.command("reset")
@human_errors
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Really empty the graph and the columnar store.")] = False) -> None:
    """Empty the graph (batched deletes) and the columnar store."""
    from sybilgraph.db.admin import reset

    if not yes:
        console.print("refusing to empty the database without --yes")
        raise typer.Exit(2)
    with open_db(settings()) as db:
        out.print(json.dumps(reset(db)))


# -- ingest --------------------------------------------------------------------------------------
@app.command()
@human_errors
def ingest(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (docs/data-contract.md).")],
    full_write: Annotated[bool, typer.Option("--full-write", help="Rewrite every graph row, not only changed ones.")] = False,
) -> None:
    """Validate and load a bundle into the columnar store and Neo4j (idempotent)."""
    from sybilgraph.ingest import ingest_bundle
    from sybilgraph.progress import reporter_for

    s = settings()
    with open_db(s) as db:
        report = ingest_bundle(bundle, s, db, reporter=reporter_for(), full_write=full_write)
    _print_ingest_report(report)
    raise typer.Exit(report.exit_code)


def _print_ingest_report(report: Any) -> None:
    t = Table(title=f"ingest {report.ingest_id} ({report.status})")
    for col in ("table", "read", "loaded", "quarantined", "error"):
        t.add_column(col)
    for tr in report.tables.values():
        t.add_row(tr.table, f"{tr.rows_read:,}", f"{tr.rows_loaded:,}", f"{tr.rows_quarantined:,}", tr.error or "")
    out.print(t)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    if report.rows_quarantined:
        console.print(f"[yellow]{report.rows_quarantined:,} rows quarantined:[/] {report.quarantine_file}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings_s.items())
    out.print(f"graph writes: {report.graph_writes}; {timings}")
    out.print(f"report: {report.report_file}")



# -- attribution ---------------------------------------------------------------------------------
@app.command()
@human_errors
def attribute(
    seed: Annotated[int, typer.Option(help="Seed for community detection (same data + seed = same partition).")] = 42,
    flag_threshold: Annotated[float, typer.Option(help="Campaign score at or above which an operator is flagged.")] = 0.5,
) -> None:
    """Link accounts to operators with GDS, score campaigns; the run becomes current when complete."""
    from sybilgraph.attribution import AttributionParams, run_attribution
    from sybilgraph.progress import reporter_for

    params = AttributionParams(seed=seed, flag_threshold=flag_threshold)
    with open_db(settings()) as db:
        result = run_attribution(db, params, reporter=reporter_for())
    t = Table(title=f"attribution {result.run_id}")
    t.add_column("phase")
    t.add_column("seconds", justify="right")
    for k, v in result.timings_s.items():
        t.add_row(k, f"{v:.2f}")
    out.print(t)
    out.print(json.dumps(result.counts))


@app.command()
@human_errors
def export(out_file: Annotated[Path, typer.Option("--out", help="CSV, or Parquet by extension.")]) -> None:
    """Write the current attribution in the contract's export format."""
    from sybilgraph.attribution import read_export, write_export

    with open_db(settings()) as db:
        table = read_export(db)
    write_export(table, out_file)
    out.print(f"wrote {table.num_rows:,} rows to {out_file}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
