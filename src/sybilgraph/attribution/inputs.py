"""What attribution reads: the aggregate state ingest wrote (columnar store), not the graph.

Links and account features are tens of millions of rows at campaign scale; reading them back out
of Neo4j cost 40 s at scale 1.0, and the columnar store already holds exactly what the graph
holds (ingest saves it after each graph write). Small things that live only in the graph (analyst
decisions and labels, the current operators) are still read from Neo4j by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.errors import AttributionError
from sybilgraph.ingest.columnar import ColumnarStore
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
    labels: pa.Table | None  # account_id, operator_label

    @property
    def n_accounts(self) -> int:
        return self.accounts.num_rows


def read_inputs(settings: Settings) -> AttributionInputs:
    store = ColumnarStore(settings.columnar_dir)
    paths = {name: store.state_path(name) for name in ("links", "identifiers", "accounts", "labels")}
    for name in ("links", "identifiers", "accounts"):
        if not paths[name].is_file():
            raise AttributionError(
                f"nothing to attribute: {paths[name]} is missing (ingest a bundle first with 'sybilgraph ingest')"
            )
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        links = con.sql(
            f"""
            SELECT l.account_id, l.kind, l.value, i.n_accounts::BIGINT AS n_accounts, l.count::BIGINT AS count
            FROM read_parquet('{paths["links"]}') l
            JOIN read_parquet('{paths["identifiers"]}') i USING (kind, value)
            """
        ).to_arrow_table()
    finally:
        con.close()
    accounts = pq.read_table(paths["accounts"])
    labels = pq.read_table(paths["labels"]) if paths["labels"].is_file() else None
    return AttributionInputs(links=links.cast(LINK_SCHEMA), accounts=accounts, labels=labels)
