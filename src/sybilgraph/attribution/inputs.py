"""What attribution reads: the aggregate state ingest wrote (``ingest.state``), not the graph.

Links and account features are tens of millions of rows at campaign scale; reading them back out
of Neo4j cost 40 s at scale 1.0, and the state tables hold exactly what the graph holds (ingest
saves them with each graph write). Small things that live only in the graph (analyst decisions
and labels, the current operators) are still read from Neo4j by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from sybilgraph.attribution.epochs import control_changes
from sybilgraph.errors import AttributionError
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.state import GraphState, StateNotFound, read_state
from sybilgraph.settings import Settings

__all__ = ["AttributionInputs", "LINK_SCHEMA", "STATE_ROWS", "inputs_from_state", "read_inputs"]

LINK_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("kind", pa.string()), ("value", pa.string()),
     ("n_accounts", pa.int64()), ("count", pa.int64())]
)


@dataclass
class AttributionInputs:
    links: pa.Table  # account_id, kind, value, n_accounts, count (identifiers of >= 2 accounts)
    accounts: pa.Table  # per-account features (ingest's account state)
    labels: pa.Table | None  # account_id, operator_label, source, organisation
    state: GraphState  # its account_identifiers without templates (STATE_ROWS)
    # Accounts whose control changed (epochs.py): account_id, controlled_from (epoch ms). Their
    # links and activity above are those of their current controller only.
    epochs: pa.Table = field(default_factory=lambda: pa.table({"account_id": pa.array([], pa.string()), "controlled_from": pa.array([], pa.int64())}))

    @property
    def n_accounts(self) -> int:
        return self.accounts.num_rows


# Attribution uses an account's own identifiers for its control epochs (clients, networks, API
# keys) and organisation evidence (IPs), never its templates: those come as links (templates of
# two accounts or more) and pools. The account-template rows are most of the table (15M of its
# 17.5M rows at scale 1.0), and reading them, then grouping them for epochs, cost ~40 s there.
STATE_ROWS = {"account_identifiers": "kind <> 'template'"}


def read_inputs(settings: Settings) -> AttributionInputs:
    try:
        state = read_state(settings, rows=STATE_ROWS)
    except StateNotFound as e:
        raise AttributionError(f"nothing to attribute: {e}") from None
    interactions = ColumnarStore(settings.columnar_dir).table_files("interactions")
    return inputs_from_state(state, interactions)


def inputs_from_state(state: GraphState, interaction_files: list[str]) -> AttributionInputs:
    """Attribution's inputs from ingest's state: accounts whose control changed keep only what
    their current controller used and did (``epochs.py``)."""
    epochs = control_changes(state.account_identifiers)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("links", state.links)
        con.register("epochs", epochs)
        # A link of an account's earlier life (last used before its control changed) is dropped,
        # and each value's number of users counted again.
        links = con.sql(
            """
            WITH kept AS (
                SELECT l.account_id, l.kind, l.value, l.count
                FROM links l LEFT JOIN epochs e USING (account_id)
                WHERE e.account_id IS NULL OR l.last_seen >= e.controlled_from
            ),
            n AS (SELECT kind, value, count(*) AS n_accounts FROM kept GROUP BY kind, value)
            SELECT k.account_id, k.kind, k.value, n.n_accounts::BIGINT AS n_accounts, k.count::BIGINT AS count
            FROM kept k JOIN n USING (kind, value)
            WHERE n.n_accounts >= 2
            """
        ).to_arrow_table()
        accounts = _current_activity(con, state.accounts, epochs, interaction_files)
    finally:
        con.close()
    labels = state.labels if state.labels.num_rows else None
    return AttributionInputs(links=links.cast(LINK_SCHEMA), accounts=accounts, labels=labels, state=state, epochs=epochs)


_EPOCH_ACTIVITY_SQL = """
WITH f AS (
    SELECT i.account_id,
           count(*)::BIGINT AS n_interactions,
           coalesce(sum(i.input_tokens), 0)::BIGINT AS input_tokens,
           coalesce(sum(i.output_tokens), 0)::BIGINT AS output_tokens,
           epoch_ms(min(i.ts)) AS first_interaction,
           epoch_ms(max(i.ts)) AS last_interaction,
           histogram((isodow(i.ts) - 1) * 24 + hour(i.ts)) AS how,
           histogram(i.category) FILTER (WHERE i.category IS NOT NULL) AS cats,
           count(i.api_key_id)::BIGINT AS n_api_key_requests
    FROM read_parquet($files, union_by_name = true) i JOIN epochs e USING (account_id)
    WHERE epoch_ms(i.ts) >= e.controlled_from
    GROUP BY i.account_id
)
SELECT account_id, n_interactions, input_tokens, output_tokens, first_interaction, last_interaction,
       list_transform(range(168), lambda h: coalesce(how[h], 0)::BIGINT) AS hour_hist,
       list_sort(map_keys(coalesce(cats, MAP {}))) AS category_names,
       list_transform(list_sort(map_keys(coalesce(cats, MAP {}))), lambda k: cats[k]::BIGINT) AS category_counts,
       n_api_key_requests
FROM f
"""


def _current_activity(con: duckdb.DuckDBPyConnection, accounts: pa.Table, epochs: pa.Table, files: list[str]) -> pa.Table:
    """The account table with the activity of changed accounts counted from their change on."""
    if epochs.num_rows == 0 or not files:
        return accounts
    con.execute("SET TimeZone = 'UTC'")
    fresh = con.sql(_EPOCH_ACTIVITY_SQL, params={"files": files}).to_arrow_table()
    if fresh.num_rows == 0:
        return accounts
    con.register("acc", accounts)
    con.register("fresh", fresh)
    cols = [c for c in accounts.column_names]
    replaced = {c for c in fresh.column_names if c != "account_id" and c in cols}
    select = ", ".join(
        f"CASE WHEN f.account_id IS NULL THEN a.{c} ELSE f.{c}::{_duck_type(accounts.schema.field(c).type)} END AS {c}"
        if c in replaced else f"a.{c}"
        for c in cols
    )
    out = con.sql(f"SELECT {select} FROM acc a LEFT JOIN fresh f USING (account_id) ORDER BY a.account_id").to_arrow_table()
    return out.cast(accounts.schema)


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return "VARCHAR[]" if pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type) else "BIGINT[]"
    return "BIGINT"
