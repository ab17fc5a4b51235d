"""Operator activity per day, from the columnar store (raw interactions never enter Neo4j).

Interactions are Parquet files under ``<columnar_dir>/bundles/*/interactions/*.parquet``;
DuckDB scans them with the operators' member ids bound as a parameter (a list, never spliced
into the SQL) and groups by UTC day. One scan serves every operator of a request; it runs
through ``columnar.run_query``, so the request deadline interrupts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import duckdb

from sybilgraph.api.columnar import run_query

__all__ = ["DailyRow", "daily_activity", "interaction_files"]

_EPOCH = date(1970, 1, 1)
_MS_PER_DAY = 86_400_000

_SQL = """
WITH members AS (
    SELECT unnest($accounts) AS account_id, unnest($operators) AS operator_id
)
SELECT m.operator_id,
       (epoch_ms(i.ts) // $ms_per_day)::BIGINT AS day,
       count(*)::BIGINT AS interactions,
       coalesce(sum(i.input_tokens), 0)::BIGINT AS input_tokens,
       coalesce(sum(i.output_tokens), 0)::BIGINT AS output_tokens,
       count(DISTINCT i.account_id)::BIGINT AS active_accounts
FROM read_parquet($files, union_by_name = true) AS i
JOIN members AS m USING (account_id)
WHERE ($from_ms IS NULL OR epoch_ms(i.ts) >= $from_ms::BIGINT)
  AND ($to_ms IS NULL OR epoch_ms(i.ts) < $to_ms::BIGINT)
GROUP BY m.operator_id, day
ORDER BY m.operator_id, day
"""


@dataclass(frozen=True)
class DailyRow:
    day: date
    interactions: int
    input_tokens: int
    output_tokens: int
    active_accounts: int


def interaction_files(columnar_dir: Path) -> list[str]:
    return sorted(str(p) for p in columnar_dir.glob("bundles/*/interactions/*.parquet"))


async def daily_activity(
    columnar_dir: Path,
    members: Mapping[str, Sequence[str]],
    day_from: date | None = None,
    day_to: date | None = None,
) -> dict[str, list[DailyRow]]:
    """operator id -> rows by day (days without interactions are absent); {} without files."""
    files = interaction_files(columnar_dir)
    out: dict[str, list[DailyRow]] = {op: [] for op in members}
    accounts = [a for ms in members.values() for a in ms]
    if not files or not accounts:
        return out
    params = {
        "accounts": accounts,
        "operators": [op for op, ms in members.items() for _ in ms],
        "files": files,
        "ms_per_day": _MS_PER_DAY,
        "from_ms": (day_from - _EPOCH).days * _MS_PER_DAY if day_from else None,
        "to_ms": ((day_to - _EPOCH).days + 1) * _MS_PER_DAY if day_to else None,
    }
    for op, day, n, tin, tout, active in await run_query(partial(_scan, params=params)):
        out[op].append(DailyRow(_EPOCH + timedelta(days=int(day)), int(n), int(tin), int(tout), int(active)))
    return out


def _scan(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> list[tuple[object, ...]]:
    return con.execute(_SQL, params).fetchall()
