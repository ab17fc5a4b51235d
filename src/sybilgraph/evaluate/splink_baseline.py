"""Splink as a baseline: Fellegi-Sunter record linkage with EM, the best generic linkage tool.

Method: I. P. Fellegi and A. B. Sunter, "A Theory for Record Linkage", JASA 64 (1969), as
implemented by Splink 4 (R. Linacre et al., UK Ministry of Justice; DuckDB backend), set up the
way Splink's documentation and tutorials set up a deduplication job, with no tuning to our data:

* **Records**: one per account, from the ingest state (``account_identifiers``: every identifier
  every account used, and ``accounts``): the e-mail domain and country, and one array per
  identifier kind of every value the account used: ``cards`` (instrument ids), ``bins``, ``devices``, ``ips``,
  ``subnets``, ``tls`` (client fingerprints), ``user_agents`` and ``templates`` (prompt
  fingerprints). A value used by more accounts than the graph's hub cut
  (``[ingest] link_max_share`` of the accounts, at least ``link_hub_min_accounts``: carrier NAT,
  browser TLS, the most popular templates) is left out, as stop words are: it ties nobody
  together, and the graph and the other two baselines leave it out too.
* **Comparisons**: array intersection per identifier kind, levels by how many values two
  accounts share (kinds that nest are one comparison with levels in decreasing specificity, as
  Splink advises for correlated columns: card then BIN; IPs then subnets; TLS and user agent),
  and exact match with term-frequency adjustment on e-mail domain and country.
* **Blocking** (which pairs are scored): accounts sharing any identifier (Splink's exploding
  blocking rules, one per kind, on the arrays unnested). Only values used by at most ``T``
  accounts generate pairs: ``T`` is the largest cut, at most the hub cut, for which the rules
  generate at most ``max_comparisons`` pairs (an upper bound: one pair may come from several
  values). Accounts of a large group still meet through their other, smaller identifiers, and
  clustering is transitive.
* **Training**: ``probability_two_random_records_match`` from deterministic rules (a shared card
  or a shared device) at an assumed recall of 0.6; ``u`` from 1 M random pairs (the default)
  (``estimate_u_using_random_sampling``); ``m`` by expectation maximisation in two sessions,
  blocked on an account's first card and on its first device (Splink's EM takes no exploding
  rule), so every comparison is estimated by a session it is not blocked on.
* **Clusters**: pairs scored by ``predict``, connected at match probability 0.9
  (``cluster_pairwise_predictions_at_threshold``).
* **Flagging**: Splink links records; it has no notion of a campaign and no campaign score. A
  cluster of at least ``min_cluster_size`` (20) accounts is flagged, the size rule of the fraud-
  ring baseline (the usual "ring" cut of payment-fraud teams), so that the three baselines differ
  in how they link, not in how they flag. Every large linked group is flagged: an open customer
  running many seats is flagged with the campaigns.

An account's ``confidence`` is the highest match probability of its links inside its cluster;
``campaign_score`` is 1.0 for a flagged cluster, else 0.0.

Splink is an optional dependency (``pip install 'sybilgraph[eval]'``): :func:`splink_available`
says whether it is installed and :data:`INSTALL_HINT` how to install it.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from sybilgraph.ingest.columnar import _checked_size
from sybilgraph.progress import NullReporter, Reporter
from sybilgraph.timing import timed

if TYPE_CHECKING:
    from sybilgraph.evaluate.baselines import BaselineRun

__all__ = [
    "INSTALL_HINT",
    "SplinkMissing",
    "run_splink",
    "ARRAY_KINDS",
    "SplinkOptions",
    "splink_available",
    "account_records",
    "records_from_store",
    "records_from_bundle",
    "splink_baseline",
]

INSTALL_HINT = (
    "the Splink baseline needs splink 4: pip install 'sybilgraph[eval]' "
    "(or pip install 'splink>=4.0,<5')"
)

# The identifier arrays of a record.
ARRAY_KINDS: tuple[str, ...] = (
    "cards", "bins", "devices", "ips", "subnets", "tls", "user_agents", "templates",
)
EXACT_COLUMNS: tuple[str, ...] = ("email_domain", "country")


@dataclass(frozen=True)
class SplinkOptions:
    """How the Splink job is set up; every value is the documented default choice."""

    match_threshold: float = 0.9  # cluster_pairwise_predictions_at_threshold
    min_cluster_size: int = 20  # flag rule: a linked group this large is a campaign
    max_comparisons: int = 5_000_000  # blocking budget (pairs the rules may generate)
    deterministic_recall: float = 0.6  # assumed recall of "shares a card or a device"
    u_max_pairs: float = 1e6  # random pairs for u (Splink's default)
    # EM sessions, one blocking rule each (Splink's EM takes no exploding rule: each blocks on
    # an array's first value, sorted, a sample of the pairs sharing that kind). Two sessions on
    # personal identifiers estimate every comparison at least once (each is estimated in the
    # session not blocked on it); network or client blocks would be large and mostly strangers.
    em_rules: tuple[str, ...] = ("cards[1]", "devices[1]")
    seed: int = 7
    memory_limit: str = "2GB"  # DuckDB; spills to a temporary directory beyond it


class SplinkMissing(ModuleNotFoundError):
    """Splink is not installed; the message says how to install it."""


def splink_available() -> bool:
    return importlib.util.find_spec("splink") is not None


# --------------------------------------------------------------------------- records

# Record array <- identifier kind of the graph (sybilgraph.identifiers.KINDS).
_KIND_OF_ARRAY: dict[str, str] = {
    "cards": "card", "bins": "bin", "devices": "device", "ips": "ip", "subnets": "subnet",
    "tls": "tls", "user_agents": "user_agent", "templates": "template",
}


def _largest_cut(con: duckdb.DuckDBPyConnection, hub: float, budget: int) -> int:
    """The largest T <= hub with Σ C(n, 2) over values used by 2..T accounts <= budget."""
    rows = con.sql(
        "SELECT n, count(*) AS k FROM value_counts WHERE n >= 2 AND n <= $hub GROUP BY n ORDER BY n",
        params={"hub": hub},
    ).fetchall()
    total, cut = 0, 1
    for n, k in rows:
        total += k * n * (n - 1) // 2
        if total > budget:
            break
        cut = int(n)
    else:
        cut = int(hub)
    return cut


def account_records(
    con: duckdb.DuckDBPyConnection, hub: float, max_comparisons: int
) -> tuple[pa.Table, dict[str, Any]]:
    """One Splink record per account: (records, what was cut).

    Reads two relations on ``con``: ``accounts_latest`` (``account_id``, ``email_domain``,
    ``country``) and ``account_identifiers`` (``account_id``, ``kind``, ``value``: every
    identifier every account used, as the ingest state holds it).

    Columns: ``account_id``, ``email_domain``, ``country``, one array per :data:`ARRAY_KINDS`
    (the values other accounts used too, at most ``hub`` accounts; [] when none is shared, NULL
    when the account has no value of the kind) and ``block_<kind>`` (values used by 2..T
    accounts, T from :func:`_largest_cut`; NULL when none).
    """
    kinds = ", ".join(f"('{k}', '{a}')" for a, k in _KIND_OF_ARRAY.items())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE account_values AS "
        "SELECT DISTINCT i.account_id, m.array_name AS kind, i.value "
        f"FROM account_identifiers i JOIN (VALUES {kinds}) m(kind, array_name) USING (kind) "
        "SEMI JOIN accounts_latest a USING (account_id) "
        "WHERE i.value IS NOT NULL AND i.value <> ''"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE value_counts AS "
        "SELECT kind, value, count(*) AS n FROM account_values GROUP BY kind, value"
    )
    cut = _largest_cut(con, hub, max_comparisons)

    def arrays(kind: str) -> str:
        # A value no other account used can never be shared: leaving it out changes no
        # intersection and keeps arrays short (most prompt templates are one account's own).
        # An account with values of the kind, none shared, gets [] (it shares nothing: the
        # comparison's lowest level); one without any gets NULL (no evidence either way).
        of_kind = f"v.kind = '{kind}'"
        keep = f"{of_kind} AND c.n BETWEEN 2 AND $hub"
        block = f"{of_kind} AND c.n BETWEEN 2 AND $cut"
        return (f"CASE WHEN bool_or({of_kind}) THEN coalesce(list(v.value ORDER BY v.value) "
                f"FILTER (WHERE {keep}), []) END AS {kind}, "
                f"list(v.value ORDER BY v.value) FILTER (WHERE {block}) AS block_{kind}")

    per_kind = ", ".join(arrays(k) for k in ARRAY_KINDS)
    records = con.sql(
        f"""
        WITH arrays AS (
            SELECT v.account_id, {per_kind}
            FROM account_values v JOIN value_counts c USING (kind, value)
            GROUP BY v.account_id
        )
        SELECT a.account_id, nullif(a.email_domain, '') AS email_domain,
               nullif(a.country, '') AS country,
               {", ".join(f"r.{k}, r.block_{k}" for k in ARRAY_KINDS)}
        FROM accounts_latest a LEFT JOIN arrays r USING (account_id)
        ORDER BY a.account_id
        """,
        params={"hub": hub, "cut": cut},
    ).to_arrow_table()
    hubs = con.sql("SELECT count(*) FROM value_counts WHERE n > $hub", params={"hub": hub}).fetchall()[0][0]
    stats = {"hub_cut": hub, "block_cut": cut, "hub_values_dropped": int(hubs)}
    return records, stats


@contextmanager
def _connection(memory_limit: str, temp_root: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection of bounded memory that spills to a temporary directory of its own
    (an in-memory DuckDB would otherwise spill into the working directory)."""
    with tempfile.TemporaryDirectory(prefix="sybilgraph-splink-", dir=temp_root) as spill:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
            con.execute(f"SET temp_directory = '{spill}'")
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def records_from_store(settings: Any, options: SplinkOptions | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Records from the ingest state of ``settings`` (``account_identifiers`` and ``accounts``
    of the last complete ingest: what attribution reads), queried in place by DuckDB."""
    from sybilgraph.ingest.aggregate import hub_accounts
    from sybilgraph.ingest.state import StateNotFound, state_relation

    options = options or SplinkOptions()
    # state table -> the relation account_records reads
    relations = {view: state_relation(settings, table)
                 for view, table in (("accounts_latest", "accounts"), ("account_identifiers", "account_identifiers"))}
    if any(r is None for r in relations.values()):
        raise StateNotFound(f"no ingested state under {settings.columnar_dir}: run 'sybilgraph ingest BUNDLE' first")
    with _connection(options.memory_limit, Path(settings.home)) as con:
        for view, relation in relations.items():
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM {relation}")
        n = con.sql("SELECT count(*) FROM accounts_latest").fetchall()[0][0]
        hub = hub_accounts(int(n), settings.ingest.link_max_share, settings.ingest.link_hub_min_accounts)
        return account_records(con, hub, options.max_comparisons)


def records_from_bundle(
    bundle_dir: Path, *, link_max_share: float = 0.05, link_hub_min_accounts: int = 50,
    options: SplinkOptions | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """Records straight from a bundle directory, without a database: read and normalised by
    ingest's readers (invalid rows dropped, as ingest quarantines them), identifiers per account
    by ingest's own aggregation SQL. Holds the bundle's tables in memory: for tests and offline
    measurement; the command reads the ingest state."""
    from sybilgraph.ingest import aggregate as agg
    from sybilgraph.ingest.readers import read_table
    from sybilgraph.ingest.validate import NORMALIZED_SCHEMAS

    options = options or SplinkOptions()
    tables: dict[str, pa.Table] = {}
    known: pa.Array | None = None
    for name in ("accounts", "payment_methods", "sessions", "interactions"):
        parts = [b.good for b in read_table(bundle_dir, name, known_accounts=known) if b.good.num_rows]
        table = pa.Table.from_batches(parts) if parts else NORMALIZED_SCHEMAS[name].empty_table()
        if name == "accounts":
            table = table.append_column("_ingest_seq", pa.array(np.ones(table.num_rows, dtype=np.int64)))
            known = table.column("account_id").combine_chunks()
        tables[name] = table
    with _connection(options.memory_limit) as con:
        for name, table in tables.items():
            con.register(name, table)
        con.execute(f"CREATE TEMP TABLE accounts_latest AS {agg.ACCOUNTS_LATEST_SQL}")
        con.execute(f"CREATE TEMP TABLE pairs_partial AS {agg.PAIRS_PARTIAL_SQL}")
        con.execute(f"CREATE TEMP TABLE account_identifiers AS {agg.PAIRS_SQL}")
        hub = agg.hub_accounts(tables["accounts"].num_rows, link_max_share, link_hub_min_accounts)
        return account_records(con, hub, options.max_comparisons)


# --------------------------------------------------------------------------- the Splink job


def _intersect_levels(levels: list[tuple[str, int]]) -> list[Any]:
    import splink.comparison_level_library as cll

    return [cll.ArrayIntersectLevel(col, size) for col, size in levels]


def _comparisons() -> list[Any]:
    """One comparison per identifier kind, levels by how many values two accounts share.

    Kinds that nest are one comparison with levels in decreasing specificity, as Splink's
    guidance has it for correlated columns (summing them would count one fact twice): a BIN is
    part of a card, an IP lies in its subnet, a TLS fingerprint and a user agent are one client.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def custom(name: str, null_col: str, levels: list[Any]) -> Any:
        return cl.CustomComparison(
            [cll.NullLevel(null_col), *levels, cll.ElseLevel()], output_column_name=name
        )

    return [
        custom("payment", "cards", _intersect_levels([("cards", 2), ("cards", 1), ("bins", 1)])),
        cl.ArrayIntersectAtSizes("devices", [2, 1]),
        custom("network", "ips", _intersect_levels(
            [("ips", 4), ("ips", 2), ("ips", 1), ("subnets", 2), ("subnets", 1)])),
        custom("client", "tls", [
            cll.And(cll.ArrayIntersectLevel("tls", 1), cll.ArrayIntersectLevel("user_agents", 1)),
            *_intersect_levels([("tls", 1), ("user_agents", 1)]),
        ]),
        cl.ArrayIntersectAtSizes("templates", [8, 4, 2, 1]),
        *(cl.ExactMatch(c).configure(term_frequency_adjustments=True) for c in EXACT_COLUMNS),
    ]


def _settings(options: SplinkOptions) -> Any:
    from splink import SettingsCreator, block_on

    blocking = [block_on(f"block_{k}", arrays_to_explode=[f"block_{k}"]) for k in ARRAY_KINDS]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="account_id",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _link(
    records: pa.Table, options: SplinkOptions, con: duckdb.DuckDBPyConnection, reporter: Reporter
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """(clusters: account_id, cluster_id; links at or above the threshold: account_id_l,
    account_id_r, match_probability; what was estimated)."""
    from splink import DuckDBAPI, Linker, block_on

    linker = Linker(records.to_pandas(), _settings(options), DuckDBAPI(connection=con))
    timings: dict[str, float] = {}
    with timed(timings, "prior"), reporter.phase("splink: prior from deterministic rules"):
        deterministic = [block_on(c, arrays_to_explode=[c]) for c in ("cards", "devices")]
        linker.training.estimate_probability_two_random_records_match(
            deterministic, recall=options.deterministic_recall
        )
    with timed(timings, "u"), reporter.phase("splink: u from random pairs"):
        linker.training.estimate_u_using_random_sampling(max_pairs=options.u_max_pairs, seed=options.seed)
    with timed(timings, "m"), reporter.phase("splink: m by EM", total=len(options.em_rules)) as phase:
        for rule in options.em_rules:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(rule))
            phase.advance()
    with timed(timings, "predict"), reporter.phase("splink: predict"):
        predictions = linker.inference.predict(threshold_match_probability=options.match_threshold)
    with timed(timings, "cluster"), reporter.phase("splink: cluster"):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=options.match_threshold
        )
    clusters_t = con.sql(f"SELECT account_id, cluster_id FROM {clusters.physical_name}").to_arrow_table()
    links_t = con.sql(
        f"SELECT account_id_l, account_id_r, match_probability FROM {predictions.physical_name}"
    ).to_arrow_table()
    model = linker.misc.save_model_to_json()
    details = {
        "probability_two_random_records_match": model["probability_two_random_records_match"],
        "links_at_threshold": links_t.num_rows,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    return clusters_t, links_t, details


def _confidence(export: pd.DataFrame, links: pa.Table) -> np.ndarray:
    """Per exported account: the highest match probability of its links inside its operator."""
    op = pd.Series(export["operator_id"].to_numpy(), index=export["account_id"].astype(str).to_numpy())
    lk = links.to_pandas()
    ends = pd.DataFrame({
        "a": pd.concat([lk["account_id_l"], lk["account_id_r"]], ignore_index=True).astype(str),
        "b": pd.concat([lk["account_id_r"], lk["account_id_l"]], ignore_index=True).astype(str),
        "p": pd.concat([lk["match_probability"]] * 2, ignore_index=True),
    })
    ends = ends[ends["a"].map(op).to_numpy() == ends["b"].map(op).to_numpy()]
    best = ends.groupby("a")["p"].max()
    return export["account_id"].astype(str).map(best).fillna(0.0).to_numpy(dtype=float)


@contextmanager
def _quiet_splink() -> Iterator[None]:
    """Splink narrates every step at INFO (and prints EM iterations); keep warnings only."""
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def splink_baseline(
    records: pa.Table,
    options: SplinkOptions | None = None,
    *,
    record_stats: Mapping[str, Any] | None = None,
    reporter: Reporter | None = None,
    temp_root: Path | None = None,
) -> BaselineRun:
    """Run the Splink job on account records (:func:`account_records`), in export format.
    DuckDB spills under ``temp_root`` (default: the system's temporary directory).

    ``runtime_s`` is Splink's own work (training, prediction, clustering), not the reading of
    records, as the other baselines' runtimes leave out the reading of pairs.
    """
    from sybilgraph.evaluate.baselines import BaselineRun, _export

    if not splink_available():
        raise SplinkMissing(INSTALL_HINT)
    options = options or SplinkOptions()
    reporter = reporter or NullReporter()
    t0 = time.perf_counter()
    with _quiet_splink(), _connection(options.memory_limit, temp_root) as con:
        clusters, links, details = _link(records, options, con, reporter)
    ids = np.asarray(records.column("account_id").to_pylist(), dtype=object)
    cluster_of = dict(zip(clusters.column("account_id").to_pylist(), clusters.column("cluster_id").to_pylist()))
    codes, _ = pd.factorize(pd.Series([cluster_of.get(a) for a in ids], dtype=object), use_na_sentinel=True)
    export, stats = _export(ids, np.asarray(codes, dtype=np.int64), options.min_cluster_size, "splink")
    export["confidence"] = _confidence(export, links)
    runtime = time.perf_counter() - t0
    details = {
        "method": "Splink 4 (Fellegi-Sunter, EM, DuckDB): clusters at match probability "
        f"{options.match_threshold}, flagged when >= {options.min_cluster_size} accounts",
        "options": asdict(options),
        "accounts": int(records.num_rows),
        **dict(record_stats or {}),
        **details,
        **stats,
    }
    return BaselineRun("splink", export, runtime, details)


def run_splink(
    settings: Any,
    truth: pd.DataFrame | pa.Table | None = None,
    labels: pd.DataFrame | pa.Table | None = None,
    *,
    options: SplinkOptions | None = None,
    reporter: Reporter | None = None,
) -> BaselineRun:
    """Splink on the columnar store of ``settings``, labelled and scored like the other
    baselines (:func:`sybilgraph.evaluate.baselines.scored`)."""
    from sybilgraph.evaluate.baselines import scored

    if not splink_available():
        raise SplinkMissing(INSTALL_HINT)
    options = options or SplinkOptions()
    reporter = reporter or NullReporter()
    t0 = time.perf_counter()
    with reporter.phase("splink: account records"):
        records, stats = records_from_store(settings, options)
    stats["records_s"] = round(time.perf_counter() - t0, 3)
    run = splink_baseline(records, options, record_stats=stats, reporter=reporter, temp_root=Path(settings.home))
    return scored(run, truth, labels)
