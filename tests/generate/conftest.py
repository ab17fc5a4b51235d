"""Fixtures for the generator tests: one scale-0.02 bundle per session, queried with DuckDB.

Why one shared bundle: generating takes a couple of seconds, and every invariant test reads the
same data; the determinism tests generate their own (smaller) bundles.
"""

from __future__ import annotations

import json
import os
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


# --- drawn worlds (random and family tradecraft) ---------------------------------------------

ALL_FAMILIES = "card_ring,proxy_farm,vm_farm,carrier_nat,careful,vpn_mixed,sub_crews,takeover"
WORLD_SEED = int(os.environ.get("SYBILGRAPH_GEN_WORLD_SEED", "7"))  # a draw where churn, proxies through real homes, four crews and trails all occur


@pytest.fixture(scope="session")
def world_report(tmp_path_factory: pytest.TempPathFactory) -> GenerateReport:
    """One operator of every family in a benign crowd (scale 0.01)."""
    return generate_bundle(tmp_path_factory.mktemp("world") / "b", scale=0.01, seed=WORLD_SEED, tradecraft=ALL_FAMILIES)


@pytest.fixture(scope="session")
def world_manifest(world_report: GenerateReport) -> dict[str, Any]:
    return json.loads((world_report.out_dir / "generator.json").read_text())


@pytest.fixture(scope="session")
def wsql(world_report: GenerateReport) -> Iterator[Sql]:
    """DuckDB views over the world bundle, plus ``g`` as for the classic bundle, ``links``
    (account, kind, identifier) and ``epochs``."""
    root = world_report.out_dir
    con = duckdb.connect()
    for name in ("accounts", "payment_methods", "sessions", "truth", "organisations", "ip_owners", "truth_epochs"):
        con.execute(f"create view {name} as select * from read_parquet('{root}/{name}.parquet')")
    con.execute(f"create table interactions as select * from read_parquet('{root}/interactions/*.parquet')")
    con.execute(f"create view labels as select * from read_csv('{root}/labels.csv', all_varchar=true)")
    con.execute(
        """create table g as select account_id, operator, is_distillation, organisation,
           case when operator like 'DIST-%' then operator when operator like 'HH-%' then 'HH'
                when operator like 'ORG-%' then 'ORG' when operator like 'CUST-%' then 'CUST'
                else 'solo' end as grp
           from truth"""
    )
    con.execute(
        """create table links as
           select account_id, 'card' kind, instrument_id ident from payment_methods
           union select account_id, 'device', device_id from sessions
           union select account_id, 'device', device_id from interactions
           union select account_id, 'ip', ip from sessions
           union select account_id, 'ip', ip from interactions"""
    )
    yield Sql(con)
    con.close()
