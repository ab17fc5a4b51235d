"""Combine the partial aggregates of every live delivery into the state the graph holds.

Stage two of ``aggregate.py``, always in DuckDB (partials are small next to the interactions):
the latest versioned rows (accounts, card details, labels, organisations, network ranges), the
owner of every IP (``networks.match_networks``, on distinct IPs only), the per-account identifier
usage including the ``network_owner`` kind, identifiers with their rarity and hub flag, links,
activity features, labels and organisations. Output: ``state.STATE_SCHEMAS`` tables, sorted by
``state.SORT_KEYS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.ingest import aggregate as agg
from sybilgraph.ingest.aggregators import PARTIAL_SCHEMAS, register_parquet
from sybilgraph.ingest.netaddr import normalize_ip_array
from sybilgraph.ingest.networks import match_networks
from sybilgraph.ingest.state import SORT_KEYS, STATE_SCHEMAS

__all__ = ["CombineInput", "USAGE_ROW_BYTES", "VERSIONED_TABLES", "combine", "conform", "ip_subnets", "usage_chunk_rows"]

# Staged tables read whole when combining (small: one row per account, card, label, ...).
VERSIONED_TABLES = ("accounts", "payment_methods", "labels", "organisations", "ip_owners")

# DuckDB memory one usage row takes while it is grouped and sorted (hash table, sort keys, its
# strings), with room to spare: at scale 1.0 (22.3M rows, ~38 bytes of ids each) a 4 GB limit
# held 5.6M rows a statement in memory, and 7.4M spilled to disk at twice the time.
USAGE_ROW_BYTES = 800


def usage_chunk_rows(memory_limit_bytes: int) -> int:
    """Usage rows one statement may group and sort within DuckDB's memory limit."""
    return max(1, memory_limit_bytes // USAGE_ROW_BYTES)


@dataclass(frozen=True)
class CombineInput:
    """Parquet files of every live delivery: its partials and its versioned staged tables."""

    partials: Mapping[str, list[str]]  # "pairs", "activity" -> files
    staged: Mapping[str, list[str]]  # VERSIONED_TABLES -> files
    staged_schemas: Mapping[str, pa.Schema]
    link_max_share: float
    link_hub_min_accounts: int
    # Usage rows grouped and sorted by one statement (``usage_chunk_rows``); 0: all at once.
    usage_chunk_rows: int = 0


def combine(con: duckdb.DuckDBPyConnection, inputs: CombineInput) -> dict[str, pa.Table]:
    """The state tables (``state.STATE_SCHEMAS``) of everything ``inputs`` names."""
    register_parquet(con, {f"{k}_partial": list(inputs.partials.get(k, [])) for k in PARTIAL_SCHEMAS},
                     {f"{k}_partial": s for k, s in PARTIAL_SCHEMAS.items()})
    register_parquet(con, {t: list(inputs.staged.get(t, [])) for t in VERSIONED_TABLES}, inputs.staged_schemas)
    con.execute(f"CREATE TEMP TABLE accounts_latest AS {agg.ACCOUNTS_LATEST_SQL}")
    # The owners of the networks first, from the ip rows alone (3% of the usage rows), so that the
    # usage rows can be grouped, sorted and handed over as Arrow straight away (``_usage``).
    con.execute(f"CREATE TEMP TABLE ip_pairs AS SELECT * FROM ({agg.PAIRS_SQL}) WHERE kind = 'ip'")
    owners = con.sql(agg.IP_OWNERS_LATEST_SQL).to_arrow_table()
    ips = con.sql("SELECT DISTINCT value FROM ip_pairs").to_arrow_table().column(0)
    ip_networks = match_networks(ips, owners)
    con.register("ip_networks", ip_networks)
    account_identifiers = _usage(con, inputs.usage_chunk_rows)
    con.register("account_identifiers", account_identifiers)
    n_accounts = int(con.sql("SELECT count(*) FROM accounts_latest").fetchall()[0][0])
    hub = agg.hub_accounts(n_accounts, inputs.link_max_share, inputs.link_hub_min_accounts)
    con.execute(f"CREATE TEMP VIEW identifier_counts AS {agg.IDENTIFIER_COUNTS_SQL}")
    con.execute(f"CREATE TEMP TABLE identifiers AS {agg.IDENTIFIERS_SQL}", {"hub_accounts": hub})
    con.execute(f"CREATE TEMP TABLE activity AS {agg.ACTIVITY_SQL}")
    queries = {
        "accounts": agg.ACCOUNTS_OUT_SQL,
        "identifiers": "SELECT * FROM identifiers",
        "links": agg.LINKS_SQL,
        "labels": agg.LABELS_LATEST_SQL,
        "organisations": agg.ORGANISATIONS_LATEST_SQL,
    }
    out = {name: _query(name, con, sql) for name, sql in queries.items()}
    out["account_identifiers"] = account_identifiers
    out["ip_owners"] = _sorted("ip_owners", owners)
    out["ip_networks"] = _sorted("ip_networks", ip_networks)
    out["ip_subnets"] = _sorted("ip_subnets", ip_subnets(out["identifiers"]))
    return out


def _usage(con: duckdb.DuckDBPyConnection, chunk_rows: int) -> pa.Table:
    """The ``account_identifiers`` state table: every account's usage of every identifier, the
    owners of its networks included, sorted.

    At scale 1.0 that is 22M rows; grouped and sorted in one statement they took 5-6 GB and ran
    out of the default 4 GB limit (so did holding them in a DuckDB table, then copying them
    into a second one). So they are grouped and sorted a range of accounts at a time, ranges of
    about ``chunk_rows`` input rows each, and the sorted pieces, in key order since the sort key
    starts with the account, are put end to end. Each piece is Arrow held once, outside
    DuckDB's limit, and no later statement sorts it again."""
    usage = f"SELECT * FROM ({agg.PAIRS_SQL} UNION ALL {agg.network_owner_usage_sql('ip_pairs')})"
    return pa.concat_tables([_query("account_identifiers", con, f"{usage} WHERE {where}", params)
                             for where, params in _account_ranges(con, chunk_rows)])


def _account_ranges(con: duckdb.DuckDBPyConnection, chunk_rows: int) -> list[tuple[str, dict[str, str]]]:
    """Filters cutting ``accounts_latest``'s ids into consecutive ranges of equal size, one per
    ``chunk_rows`` rows of the usage partials (their Parquet footers' counts), in key order;
    each filter with its parameters. Every account falls in exactly one range."""
    rows = int(con.sql("SELECT count(*) FROM pairs_partial").fetchall()[0][0])
    n = -(-rows // chunk_rows) if chunk_rows > 0 else 1
    cuts: list[str] = []
    if n > 1:
        quantiles = ", ".join(str(i / n) for i in range(1, n))
        cuts = sorted(set(con.sql(f"SELECT quantile_disc(account_id, [{quantiles}]) FROM accounts_latest").fetchall()[0][0] or []))
    bounds: list[str | None] = [None, *cuts, None]
    return [_account_range(lo, hi) for lo, hi in pairwise(bounds)]


def _account_range(lo: str | None, hi: str | None) -> tuple[str, dict[str, str]]:
    """``lo <= account_id < hi``, either end open when None."""
    conditions = {"lo": "account_id >= $lo", "hi": "account_id < $hi"}
    params = {name: value for name, value in (("lo", lo), ("hi", hi)) if value is not None}
    return " AND ".join(conditions[name] for name in params) or "true", params


def _query(name: str, con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, str] | None = None) -> pa.Table:
    """State table ``name`` from ``sql``, sorted by DuckDB (in parallel, several times faster than
    Arrow's sort on millions of rows)."""
    ordered = f"SELECT * FROM ({sql}) ORDER BY {', '.join(SORT_KEYS[name])}"
    return conform(name, con.sql(ordered, params=params).to_arrow_table())


def conform(name: str, table: pa.Table) -> pa.Table:
    """``table`` with the columns and types of state table ``name``."""
    schema = STATE_SCHEMAS[name]
    return table.select(schema.names).cast(schema)


def _sorted(name: str, table: pa.Table) -> pa.Table:
    """Small tables built in Python: sorted by Arrow."""
    return conform(name, table).sort_by([(k, "ascending") for k in SORT_KEYS[name]])


def ip_subnets(identifiers: pa.Table) -> pa.Table:
    """The subnet of every IP node (its /24 or /48), with the readers' own normaliser."""
    ips = identifiers.filter(pc.equal(identifiers["kind"], "ip"))["value"].combine_chunks()
    _, subnets, _ = normalize_ip_array(ips)
    return pa.table({"ip": ips, "subnet": subnets})
