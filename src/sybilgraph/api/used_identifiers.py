"""Who used an identifier, from the columnar store, for what the graph does not hold.

The graph links an account to an identifier only when two or more accounts used it and it is
not a hub (docs/graph-model.md): an account's own home IP, a device no one else had, a carrier
NAT address used by thousands have no links, so "every account that used this IP" cannot come
from Neo4j for them. Ingest keeps *every* identifier of every account in the state table
``account_identifiers`` (``sybilgraph.ingest.state``: account_id, kind, value, count,
first_seen, last_seen); DuckDB reads the current generation in place (``state_relation``: its
file, merged with the overlay of the deliveries since it was written) and answers the same page
shape as the graph: accounts by id after a cursor, how often and when, and the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import duckdb

from sybilgraph.api.columnar import run_query

__all__ = ["Wanted", "used_by"]

Wanted = tuple[str, str, str | None]  # kind, value, after (account id) of one page asked for

# {relation}: ingest's state_relation (SQL it builds from its own paths, never from input).
_SQL = """
WITH wanted AS (
    SELECT unnest($kinds) AS kind, unnest($values) AS value, unnest($afters) AS after, unnest($ordinals) AS k
),
uses AS (
    SELECT w.k, a.account_id, a.count, a.first_seen, a.last_seen
    FROM {relation} AS a JOIN wanted AS w ON a.kind = w.kind AND a.value = w.value
),
totals AS (SELECT k, count(*) AS total FROM uses GROUP BY k),
paged AS (
    SELECT u.*, row_number() OVER (PARTITION BY u.k ORDER BY u.account_id) AS rn
    FROM uses AS u JOIN wanted AS w USING (k)
    WHERE w.after IS NULL OR u.account_id > w.after
)
SELECT p.k, p.account_id, p.count, p.first_seen, p.last_seen, t.total
FROM paged AS p JOIN totals AS t USING (k)
WHERE p.rn <= $limit
ORDER BY p.k, p.account_id
"""


async def used_by(relation: str, wanted: Sequence[Wanted], limit: int) -> list[tuple[list[dict[str, Any]], int]]:
    """For each (kind, value, after): (a page of at most ``limit`` uses by account id, total);
    ``relation``: the ``account_identifiers`` state table (``ingest.state.state_relation``)."""
    params = {
        "kinds": [w[0] for w in wanted], "values": [w[1] for w in wanted], "afters": [w[2] for w in wanted],
        "ordinals": list(range(len(wanted))), "limit": limit,
    }
    out: list[tuple[list[dict[str, Any]], int]] = [([], 0) for _ in wanted]
    for k, account_id, count, first_seen, last_seen, total in await run_query(partial(_scan, relation=relation,
                                                                                      params=params)):
        page, _ = out[k]
        page.append({"account_id": account_id, "count": count, "first_seen": first_seen, "last_seen": last_seen})
        out[k] = (page, int(total))
    return out


def _scan(con: duckdb.DuckDBPyConnection, relation: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return con.execute(_SQL.format(relation=relation), params).fetchall()
