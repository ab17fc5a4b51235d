"""Splice a delivery into the combined state: recompute only what it touches (issue 12).

``combine.py`` folds every live delivery's partials into the state: its cost follows the store.
A delivery, its redelivery or its withdrawal changes the aggregate of few rows, so this module
recomputes those and keeps the rest of the last state as it is. With ``A`` the accounts of the
deliveries that came or left (``StatePlan``'s delivery accounts), exactly these rows can change:

* ``accounts``, ``labels``, ``account_identifiers`` of the accounts in ``A`` (every value is a
  fold over that account's partial rows only);
* ``identifiers`` that an account of ``A`` used before or uses now (``touched``: their account
  counts move), and the identifiers whose hub flag flips because the account total moved the
  hub cut-off (``flipped``: untouched identifiers with ``n_accounts`` between the old and the new
  cut-off; few, since the cut-off moves by the delivery's share);
* ``links`` of the accounts in ``A``, and every link of an identifier whose eligibility for links
  (a node of at least two accounts that is not a hub) changed: these may be far from the
  delivery (an identifier crossing the hub cut-off takes all its links with it);
* ``ip_networks`` and ``ip_subnets`` of the touched IPs. ``organisations`` is recomputed whole
  (a handful of rows). A change of the network ranges (``ip_owners``) can move the owner of any
  IP: then there is no splice, and the caller combines everything.

The result is a ``state.TableChange`` per table: the keys whose rows may differ from the last
state, and their new rows. Applied to the last state it equals ``combine`` over the live
deliveries (a property test folds random delivery sequences both ways); the graph sync diffs
only those keys, and the state saves them as an overlay (``state.py``) instead of rewriting
every table.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from sybilgraph.ingest import aggregate as agg
from sybilgraph.ingest.aggregators import PARTIAL_SCHEMAS, register_parquet
from sybilgraph.ingest.combine import VERSIONED_TABLES, CombineInput, conform, ip_subnets
from sybilgraph.ingest.networks import match_networks
from sybilgraph.ingest.state import GRAPH_TABLES, OVERLAY_KEYS, SORT_KEYS, STATE_SCHEMAS, StateDir, TableChange

__all__ = ["Splice", "splice"]


@dataclass(frozen=True)
class Splice:
    """Per state table (but ``ip_owners``, unchanged), the keys whose rows may have changed and
    their new rows."""

    changes: dict[str, TableChange]
    flipped: int  # identifiers whose hub flag moved with the account total

    @property
    def scope(self) -> dict[str, pa.Table]:
        """Per graph table, the keys a sync must compare: rows outside them are the last state's."""
        return {name: self.changes[name].keys for name in GRAPH_TABLES}


def splice(
    con: duckdb.DuckDBPyConnection, inputs: CombineInput, old: StateDir, changed: pa.Array
) -> Splice | None:
    """The state of ``inputs`` from the last state ``old`` and the accounts whose deliveries
    changed; None when the network ranges changed (combine instead).

    ``inputs`` may name only the deliveries that touched a changed account for the partials and
    the ``accounts`` and ``labels`` rows (no other delivery holds a row of theirs), but every
    delivery for the other versioned tables (a card's details may come from another account's row).
    """
    _register(con, inputs, old, changed)
    owners = con.sql(agg.IP_OWNERS_LATEST_SQL).to_arrow_table()
    if not _sorted("ip_owners", owners).equals(_sorted("ip_owners", con.sql("SELECT * FROM old_ip_owners").to_arrow_table())):
        return None
    _changed_accounts(con)
    _touched_ips(con, owners)
    n_old = int(con.sql("SELECT count(*) FROM old_accounts").fetchall()[0][0])
    n_new = n_old + int(con.sql("SELECT (SELECT count(*) FROM accounts_latest) - "
                                "(SELECT count(*) FROM old_accounts SEMI JOIN chg USING (account_id))").fetchall()[0][0])
    hub_old = agg.hub_accounts(n_old, inputs.link_max_share, inputs.link_hub_min_accounts)
    hub_new = agg.hub_accounts(n_new, inputs.link_max_share, inputs.link_hub_min_accounts)
    flipped = _identifiers(con, hub_old, hub_new)
    _links(con)
    return Splice(changes=_changes(con), flipped=flipped)


def _register(con: duckdb.DuckDBPyConnection, inputs: CombineInput, old: StateDir, changed: pa.Array) -> None:
    register_parquet(con, {f"{k}_all": list(inputs.partials.get(k, [])) for k in PARTIAL_SCHEMAS},
                     {f"{k}_all": s for k, s in PARTIAL_SCHEMAS.items()})
    register_parquet(con, {t: list(inputs.staged.get(t, [])) for t in VERSIONED_TABLES}, inputs.staged_schemas)
    for name in STATE_SCHEMAS:
        con.execute(f"CREATE TEMP VIEW old_{name} AS SELECT * FROM {old.relation(name)}")
    con.register("changed_in", pa.table({"account_id": pa.array(changed, pa.string())}))
    con.execute("CREATE TEMP TABLE chg AS SELECT DISTINCT account_id FROM changed_in")
    # The changed accounts the last state holds (none for a delivery of new accounts): their
    # old usage rows, read by key (``StateDir.rows_of``: from the overlay where it has them).
    con.execute("CREATE TEMP TABLE chg_known AS SELECT account_id FROM chg SEMI JOIN old_accounts USING (account_id)")
    con.execute(f"CREATE TEMP VIEW old_ai_of_chg AS SELECT * FROM {old.rows_of('account_identifiers', 'chg_known')}")


def _changed_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Everything per account, for the changed accounts only: combine's statements run unchanged
    on views that hold just those accounts' rows."""
    con.execute(f"CREATE TEMP TABLE accounts_latest AS SELECT * FROM ({agg.ACCOUNTS_LATEST_SQL}) SEMI JOIN chg USING (account_id)")
    con.execute("CREATE TEMP VIEW pairs_partial AS SELECT * FROM pairs_all SEMI JOIN chg USING (account_id)")
    con.execute("CREATE TEMP VIEW activity_partial AS SELECT * FROM activity_all SEMI JOIN chg USING (account_id)")
    con.execute(f"CREATE TEMP TABLE pairs AS {agg.PAIRS_SQL}")
    con.execute("CREATE TEMP TABLE old_ai_chg AS SELECT * FROM old_ai_of_chg")


def _touched_ips(con: duckdb.DuckDBPyConnection, owners: pa.Table) -> None:
    """Owners of the IPs the changed accounts used before or use now (the ranges did not change,
    so every other IP keeps its row), then those accounts' identifier usage."""
    ips = con.sql("SELECT value FROM pairs WHERE kind = 'ip' UNION SELECT value FROM old_ai_chg WHERE kind = 'ip'"
                  ).to_arrow_table().column(0).combine_chunks()
    con.register("ip_networks_touched", match_networks(ips, owners))
    con.register("ips_touched", pa.table({"ip": ips}))
    con.execute("CREATE TEMP VIEW ip_networks AS SELECT * FROM ip_networks_touched")
    con.execute(f"CREATE TEMP TABLE ai_chg AS {agg.ACCOUNT_IDENTIFIERS_SQL}")


def _identifiers(con: duckdb.DuckDBPyConnection, hub_old: float, hub_new: float) -> int:
    """New rows of the touched and the flipped identifiers; returns how many flipped.

    Counts come from the last state where it knows them, so that the saved usage table (every
    identifier of every account) is read for few identifiers, or not at all: an identifier of
    the last ``identifiers`` table (two accounts or more) keeps its count, minus the changed
    accounts' old uses, plus their new ones. Any other was used by at most one account; when
    that was a changed account nobody else used it, otherwise one unchanged account may have
    (``lookup``). Rows of unchanged accounts are read (``others``) only for those, and for
    identifiers that stop being hubs, whose links come back.
    """
    con.execute("""
        CREATE TEMP TABLE chg_usage AS
        SELECT kind, value, sum(was)::BIGINT AS n_before, sum(now)::BIGINT AS n_after FROM (
            SELECT kind, value, 1 AS was, 0 AS now FROM old_ai_chg
            UNION ALL SELECT kind, value, 0 AS was, 1 AS now FROM ai_chg
        ) GROUP BY kind, value
    """)
    con.execute("CREATE TEMP TABLE touched AS SELECT kind, value FROM chg_usage")
    con.execute("""
        CREATE TEMP TABLE known_counts AS
        SELECT u.kind, u.value, o.hub AS was_hub, (o.n_accounts - u.n_before + u.n_after)::BIGINT AS n_accounts
        FROM chg_usage u JOIN old_identifiers o USING (kind, value)
    """)
    # An untouched identifier keeps its count; its hub flag follows the cut-off.
    con.execute("""
        CREATE TEMP TABLE identifiers_flipped AS
        SELECT * REPLACE (NOT hub AS hub) FROM (SELECT * FROM old_identifiers ANTI JOIN touched USING (kind, value))
        WHERE (n_accounts > $hub_old) <> (n_accounts > $hub_new)
    """, {"hub_old": hub_old, "hub_new": hub_new})
    con.execute("""
        CREATE TEMP TABLE lookup AS
        SELECT kind, value FROM chg_usage ANTI JOIN old_identifiers USING (kind, value) WHERE n_before = 0
        UNION ALL SELECT kind, value FROM known_counts
        WHERE was_hub AND n_accounts >= $min_accounts AND n_accounts <= $hub_new
        UNION ALL SELECT kind, value FROM identifiers_flipped WHERE NOT hub
    """, {"hub_new": hub_new, "min_accounts": agg.MIN_ACCOUNTS_FOR_LINK})
    if con.sql("SELECT count(*) FROM lookup").fetchall()[0][0]:
        con.execute("""
            CREATE TEMP TABLE others AS
            SELECT * FROM (SELECT * FROM old_account_identifiers ANTI JOIN chg USING (account_id))
            SEMI JOIN lookup USING (kind, value)
        """)
    else:  # e.g. a withdrawal: the changed accounts have no new usage to look up
        con.execute("CREATE TEMP TABLE others AS SELECT * FROM old_account_identifiers LIMIT 0")
    con.execute("""
        CREATE TEMP TABLE identifier_counts AS
        SELECT kind, value, n_accounts FROM (
            SELECT u.kind, u.value,
                   coalesce(k.n_accounts, coalesce(o.n, 0) + u.n_after)::BIGINT AS n_accounts
            FROM chg_usage u LEFT JOIN known_counts k USING (kind, value)
            LEFT JOIN (SELECT kind, value, count(*) AS n FROM others GROUP BY kind, value) o USING (kind, value)
        ) WHERE n_accounts > 0
    """)
    con.execute(f"CREATE TEMP TABLE identifiers_touched AS {agg.IDENTIFIERS_SQL}", {"hub_accounts": hub_new})
    return int(con.sql("SELECT count(*) FROM identifiers_flipped").fetchall()[0][0])


def _links(con: duckdb.DuckDBPyConnection) -> None:
    """Links: the changed accounts' from scratch; the others' kept, but where their identifier
    became or stopped being linkable (``eligibility_changed``): an identifier that became
    linkable was one account's, a hub, or flipped, and ``others`` holds its other users' rows."""
    con.execute("""
        CREATE TEMP TABLE eligibility_changed AS
        WITH scope AS (SELECT kind, value FROM touched UNION SELECT kind, value FROM identifiers_flipped),
        before AS (SELECT kind, value, NOT hub AS linkable FROM old_identifiers SEMI JOIN scope USING (kind, value)),
        after AS (SELECT kind, value, NOT hub AS linkable FROM identifiers_touched
                  UNION ALL BY NAME SELECT kind, value, NOT hub AS linkable FROM identifiers_flipped)
        SELECT kind, value, coalesce(a.linkable, false) AS linkable
        FROM scope LEFT JOIN before b USING (kind, value) LEFT JOIN after a USING (kind, value)
        WHERE coalesce(b.linkable, false) <> coalesce(a.linkable, false)
    """)
    con.execute("""
        CREATE TEMP TABLE links_changed AS
        SELECT * FROM ai_chg SEMI JOIN (SELECT kind, value FROM identifiers_touched WHERE NOT hub) USING (kind, value)
        UNION ALL BY NAME
        SELECT * FROM others SEMI JOIN (SELECT kind, value FROM eligibility_changed WHERE linkable) USING (kind, value)
    """)


def _changes(con: duckdb.DuckDBPyConnection) -> dict[str, TableChange]:
    """Per state table: the keys the change reaches and their new rows (none: the key left)."""
    con.execute("CREATE OR REPLACE TEMP VIEW account_identifiers AS SELECT * FROM ai_chg")
    con.execute(f"CREATE TEMP TABLE activity AS {agg.ACTIVITY_SQL}")
    con.register("subnets_touched", ip_subnets(con.sql(
        "SELECT * FROM identifiers_touched WHERE kind = 'ip'").to_arrow_table()))
    ips = "SELECT value AS ip FROM touched WHERE kind = 'ip'"
    # (keys, rows) per table; rows hold only keys of the change.
    queries = {
        "accounts": ("SELECT account_id FROM chg", agg.ACCOUNTS_OUT_SQL),
        "identifiers": ("SELECT kind, value FROM touched UNION SELECT kind, value FROM identifiers_flipped",
                        "SELECT * FROM identifiers_touched UNION ALL BY NAME SELECT * FROM identifiers_flipped"),
        # The changed accounts' links, and every link of an identifier whose eligibility moved.
        "links": ("SELECT account_id, kind, value FROM old_links SEMI JOIN chg USING (account_id) "
                  "UNION SELECT account_id, kind, value FROM old_links SEMI JOIN eligibility_changed USING (kind, value) "
                  "UNION SELECT account_id, kind, value FROM links_changed",
                  "SELECT * FROM links_changed"),
        "account_identifiers": ("SELECT account_id FROM chg", "SELECT * FROM ai_chg"),
        "labels": ("SELECT account_id FROM chg", agg.LABELS_LATEST_SQL),
        "organisations": ("SELECT org_id FROM old_organisations UNION SELECT org_id FROM organisations",
                          agg.ORGANISATIONS_LATEST_SQL),
        # IPs no account uses any more leave; the touched ones that some account still uses are
        # matched again (same ranges, so the same row as before where it had one).
        "ip_networks": ("SELECT ip FROM ips_touched",
                        "SELECT * FROM ip_networks_touched SEMI JOIN (SELECT value AS ip FROM identifier_counts "
                        "WHERE kind = 'ip') USING (ip)"),
        # IN_SUBNET rows follow their IP node.
        "ip_subnets": (ips, "SELECT * FROM subnets_touched"),
    }
    out = {}
    for name, (keys, rows) in queries.items():
        columns = ", ".join(STATE_SCHEMAS[name].names)
        out[name] = TableChange(
            keys=con.sql(keys).to_arrow_table().select(list(OVERLAY_KEYS[name])),
            rows=conform(name, con.sql(f"SELECT {columns} FROM ({rows}) ORDER BY {', '.join(SORT_KEYS[name])}").to_arrow_table()),
        )
    return out


def _sorted(name: str, table: pa.Table) -> pa.Table:
    return conform(name, table).sort_by([(k, "ascending") for k in SORT_KEYS[name]])
