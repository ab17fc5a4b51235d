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

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.ingest import aggregate as agg
from sybilgraph.ingest.aggregators import PARTIAL_SCHEMAS, register_parquet
from sybilgraph.ingest.netaddr import normalize_ip_array
from sybilgraph.ingest.networks import match_networks
from sybilgraph.ingest.state import SORT_KEYS, STATE_SCHEMAS

__all__ = ["CombineInput", "VERSIONED_TABLES", "combine", "conform", "ip_subnets"]

# Staged tables read whole when combining (small: one row per account, card, label, ...).
VERSIONED_TABLES = ("accounts", "payment_methods", "labels", "organisations", "ip_owners")


@dataclass(frozen=True)
class CombineInput:
    """Parquet files of every live delivery: its partials and its versioned staged tables."""

    partials: Mapping[str, list[str]]  # "pairs", "activity" -> files
    staged: Mapping[str, list[str]]  # VERSIONED_TABLES -> files
    staged_schemas: Mapping[str, pa.Schema]
    link_max_share: float
    link_hub_min_accounts: int


def combine(con: duckdb.DuckDBPyConnection, inputs: CombineInput) -> dict[str, pa.Table]:
    """The state tables (``state.STATE_SCHEMAS``) of everything ``inputs`` names."""
    register_parquet(con, {f"{k}_partial": list(inputs.partials.get(k, [])) for k in PARTIAL_SCHEMAS},
                     {f"{k}_partial": s for k, s in PARTIAL_SCHEMAS.items()})
    register_parquet(con, {t: list(inputs.staged.get(t, [])) for t in VERSIONED_TABLES}, inputs.staged_schemas)
    con.execute(f"CREATE TEMP TABLE accounts_latest AS {agg.ACCOUNTS_LATEST_SQL}")
    con.execute(f"CREATE TEMP TABLE pairs AS {agg.PAIRS_SQL}")
    owners = con.sql(agg.IP_OWNERS_LATEST_SQL).to_arrow_table()
    ips = con.sql("SELECT DISTINCT value FROM pairs WHERE kind = 'ip'").to_arrow_table().column(0)
    ip_networks = match_networks(ips, owners)
    con.register("ip_networks", ip_networks)
    con.execute(f"CREATE TEMP TABLE account_identifiers AS {agg.ACCOUNT_IDENTIFIERS_SQL}")
    con.execute("DROP TABLE pairs")  # account_identifiers holds its rows: one copy in memory, not two
    n_accounts = int(con.sql("SELECT count(*) FROM accounts_latest").fetchall()[0][0])
    hub = agg.hub_accounts(n_accounts, inputs.link_max_share, inputs.link_hub_min_accounts)
    con.execute(f"CREATE TEMP VIEW identifier_counts AS {agg.IDENTIFIER_COUNTS_SQL}")
    con.execute(f"CREATE TEMP TABLE identifiers AS {agg.IDENTIFIERS_SQL}", {"hub_accounts": hub})
    con.execute(f"CREATE TEMP TABLE activity AS {agg.ACTIVITY_SQL}")
    queries = {
        "accounts": agg.ACCOUNTS_OUT_SQL,
        "identifiers": "SELECT * FROM identifiers",
        "links": agg.LINKS_SQL,
        "account_identifiers": "SELECT * FROM account_identifiers",
        "labels": agg.LABELS_LATEST_SQL,
        "organisations": agg.ORGANISATIONS_LATEST_SQL,
    }
    # DuckDB sorts (in parallel, several times faster than Arrow's sort on millions of rows).
    out = {name: conform(name, con.sql(f"SELECT * FROM ({sql}) ORDER BY {', '.join(SORT_KEYS[name])}").to_arrow_table())
           for name, sql in queries.items()}
    out["ip_owners"] = _sorted("ip_owners", owners)
    out["ip_networks"] = _sorted("ip_networks", ip_networks)
    out["ip_subnets"] = _sorted("ip_subnets", ip_subnets(out["identifiers"]))
    return out


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
