"""Fixtures for the generator tests: one scale-0.02 bundle per session, queried with DuckDB.

Why one shared bundle: generating takes a couple of seconds, and every invariant test reads the
same data; the determinism tests generate their own (smaller) bundles.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sybilgraph.generate import GenerateReport, generate_bundle
from tests.generate.gen_support import SCALE, SEED, Sql


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerateReport:
    return generate_bundle(tmp_path_factory.mktemp("bundle") / "b", scale=SCALE, seed=SEED)


@pytest.fixture(scope="session")
def bundle(generated: GenerateReport) -> Path:
    return generated.out_dir


@pytest.fixture(scope="session")
def manifest(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "generator.json").read_text())


@pytest.fixture(scope="session")
def db(bundle: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Views over the bundle: the six tables plus ``g`` (account_id, operator, grp) where grp is
    the operator for distillation accounts, 'HH' / 'ORG' for households / organisations and
    'solo' for accounts that stand alone."""
    con = duckdb.connect()
    con.execute(f"create view accounts as select * from read_parquet('{bundle}/accounts.parquet')")
    con.execute(f"create view payment_methods as select * from read_parquet('{bundle}/payment_methods.parquet')")
    con.execute(f"create view sessions as select * from read_parquet('{bundle}/sessions.parquet')")
    con.execute(f"create table interactions as select * from read_parquet('{bundle}/interactions/*.parquet')")
    con.execute(f"create view labels as select * from read_csv('{bundle}/labels.csv', all_varchar=true)")
    con.execute(f"create view truth as select * from read_parquet('{bundle}/truth.parquet')")
    con.execute(
        """create table g as select account_id, operator, is_distillation,
           case when operator like 'DIST-%' then operator
                when operator like 'HH-%' then 'HH'
                when operator like 'ORG-%' then 'ORG'
                else 'solo' end as grp
           from truth"""
    )
    yield con
    con.close()


@pytest.fixture(scope="session")
def sql(db: duckdb.DuckDBPyConnection) -> Sql:
    return Sql(db)
