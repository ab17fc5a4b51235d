"""What attribution reads: the aggregate state ingest wrote (``ingest.state``), not the graph.

Links and account features are tens of millions of rows at campaign scale; reading them back out
of Neo4j cost 40 s at scale 1.0, and the state tables hold exactly what the graph holds (ingest
saves them with each graph write). Small things that live only in the graph (analyst decisions
and labels, the current operators) are still read from Neo4j by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from sybilgraph.errors import AttributionError
from sybilgraph.ingest.state import GraphState, StateNotFound, read_state
from sybilgraph.settings import Settings

__all__ = ["AttributionInputs", "LINK_SCHEMA", "read_inputs"]

LINK_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("kind", pa.string()), ("value", pa.string()),
     ("n_accounts", pa.int64()), ("count", pa.int64())]
)


@dataclass
class AttributionInputs:
    links: pa.Table  # account_id, kind, value, n_accounts, count (identifiers of >= 2 accounts)
    accounts: pa.Table  # per-account features (ingest's account state)
    labels: pa.Table | None  # account_id, operator_label, source, organisation
    state: GraphState

    @property
    def n_accounts(self) -> int:
        return self.accounts.num_rows


def read_inputs(settings: Settings) -> AttributionInputs:
    try:
        state = read_state(settings)
    except StateNotFound as e:
        raise AttributionError(f"nothing to attribute: {e}") from None
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("links", state.links)
        con.register("identifiers", state.identifiers)
        links = con.sql(
            """
            SELECT l.account_id, l.kind, l.value, i.n_accounts::BIGINT AS n_accounts, l.count::BIGINT AS count
            FROM links l JOIN identifiers i USING (kind, value)
            """
        ).to_arrow_table()
    finally:
        con.close()
    labels = state.labels if state.labels.num_rows else None
    return AttributionInputs(links=links.cast(LINK_SCHEMA), accounts=state.accounts, labels=labels, state=state)
