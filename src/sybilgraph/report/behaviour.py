"""How the operator's accounts behave, against the benign population, from the columnar store.

Raw interactions never enter Neo4j; they are Parquet under ``$SYBILGRAPH_HOME/columnar``. One
DuckDB scan, with ``GROUPING SETS``, gives every aggregate the case file draws: interactions per
UTC day, per hour of the week (Monday 00:00 UTC = 0, as the graph's ``hour_hist``), per task
category, and per output-token bin (log2 bins: bin *b* holds 2^b - 1 to 2^(b+1) - 2 tokens), each
for the operator's members and for the benign population (every account not in an operator the
current run flagged). Python only receives a few hundred aggregated rows. Member lists are bound
as parameters, never spliced into the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb

from sybilgraph.report.model import Behaviour

__all__ = ["read_behaviour"]

_EPOCH = date(1970, 1, 1)

_SQL = """
WITH op AS (SELECT DISTINCT unnest($members::VARCHAR[]) AS account_id),
     campaign AS (SELECT DISTINCT unnest($campaign::VARCHAR[]) AS account_id),
     tagged AS (
         SELECT CASE WHEN op.account_id IS NOT NULL THEN 'operator' ELSE 'benign' END AS grp,
                i.ts, i.category, i.output_tokens
         FROM read_parquet($files, union_by_name = true) AS i
         LEFT JOIN op ON op.account_id = i.account_id
         LEFT JOIN campaign AS c ON c.account_id = i.account_id
         WHERE op.account_id IS NOT NULL OR c.account_id IS NULL
     ),
     binned AS (
         -- Epoch arithmetic, not isodow()/hour(): time-zone aware calendar functions cost three times the
         -- scan. 1970-01-01 was a Thursday, so Monday 00:00 UTC is hour 72 of the epoch's week.
         SELECT grp,
                (epoch_ms(ts) // 86400000)::BIGINT AS day,
                ((epoch_ms(ts) // 3600000 + 72) % 168)::INTEGER AS how,
                coalesce(category, '(none)') AS category,
                CASE WHEN output_tokens IS NULL OR output_tokens < 0 THEN -1
                     ELSE floor(log2(output_tokens + 1))::INTEGER END AS tok
         FROM tagged
     )
SELECT grp,
       CASE WHEN grouping(day) = 0 THEN 'day' WHEN grouping(how) = 0 THEN 'how'
            WHEN grouping(category) = 0 THEN 'category' ELSE 'tokens' END AS facet,
       coalesce(day::VARCHAR, how::VARCHAR, category, tok::VARCHAR) AS bucket,
       count(*)::BIGINT AS n
FROM binned
GROUP BY GROUPING SETS ((grp, day), (grp, how), (grp, category), (grp, tok))
"""


def read_behaviour(
    files: Sequence[str], members: Sequence[str], campaign: Sequence[str], memory_limit: str = "1GB"
) -> Behaviour | None:
    """The aggregates, or None when the store holds no interactions."""
    if not files:
        return None
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads TO 2")
        con.execute(f"SET memory_limit = '{_size(memory_limit)}'")
        rows = con.execute(_SQL, {"files": list(files), "members": list(members), "campaign": list(campaign)}).fetchall()
    finally:
        con.close()
    return _behaviour(rows)


def _behaviour(rows: list[tuple[str, str, str, int]]) -> Behaviour:
    facets: dict[tuple[str, str], dict[str, int]] = {}
    for grp, facet, bucket, n in rows:
        facets.setdefault((grp, facet), {})[bucket] = int(n)

    def get(grp: str, facet: str) -> dict[str, int]:
        return facets.get((grp, facet), {})

    def hours(grp: str) -> tuple[int, ...]:
        counts = get(grp, "how")
        return tuple(counts.get(str(h), 0) for h in range(168))

    def tokens(grp: str) -> dict[int, int]:
        return {int(b): n for b, n in sorted(get(grp, "tokens").items(), key=lambda kv: int(kv[0])) if int(b) >= 0}

    daily = tuple(sorted((_EPOCH + timedelta(days=int(d)), n) for d, n in get("operator", "day").items()))
    return Behaviour(
        daily=daily,
        hour_of_week=hours("operator"),
        benign_hour_of_week=hours("benign"),
        categories=dict(sorted(get("operator", "category").items(), key=lambda kv: -kv[1])),
        benign_categories=dict(sorted(get("benign", "category").items(), key=lambda kv: -kv[1])),
        output_tokens=tokens("operator"),
        benign_output_tokens=tokens("benign"),
        interactions=sum(get("operator", "day").values()),
        benign_interactions=sum(get("benign", "day").values()),
    )


def _size(text: str) -> str:
    # DuckDB's SET takes no parameters; only a plain size like "1GB" may be spliced.
    s = text.strip().upper()
    if not s[:-2].isdigit() or s[-2:] not in {"MB", "GB"}:
        raise ValueError(f"not a memory size: {text!r}")
    return s
