"""Drawn worlds (``--tradecraft random`` and family lists): same bytes for the same inputs, the
contract for every table (the new ``organisations`` and ``ip_owners`` too), the production
readers take every row, and the manifest records what was drawn."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from sybilgraph.contract import TABLE_ORDER
from sybilgraph.generate import GenerateArgumentError, GenerateReport, generate_bundle
from sybilgraph.generate.writer import ARROW_TYPES, contract_columns
from tests.generate.gen_support import Sql
from tests.generate.test_generate_determinism import digest

WORLD_TABLES = TABLE_ORDER
NETWORK_KINDS = {"residential", "mobile", "datacenter", "vpn", "proxy", "education", "corporate"}
ORG_KINDS = {"ai_lab", "enterprise", "university", "reseller", "cloud_provider", "other"}


@pytest.fixture(scope="module")
def random_twin(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerateReport, GenerateReport]:
    root = tmp_path_factory.mktemp("random")
    a = generate_bundle(root / "a", scale=0.01, seed=4, tradecraft="random")
    b = generate_bundle(root / "b", scale=0.01, seed=4, tradecraft="random")
    return a, b


def test_same_seed_and_mode_same_bytes(random_twin: tuple[GenerateReport, GenerateReport], tmp_path: Path) -> None:
    a, b = random_twin
    da, db = digest(a.out_dir), digest(b.out_dir)
    assert da == db
    assert {"organisations.parquet", "ip_owners.parquet", "truth_epochs.parquet"} <= set(da)
    other = generate_bundle(tmp_path / "c", scale=0.01, seed=5, tradecraft="random")
    assert digest(other.out_dir)["accounts.parquet"] != da["accounts.parquet"]


def test_random_mode_differs_from_classic(random_twin: tuple[GenerateReport, GenerateReport], tmp_path: Path) -> None:
    classic = generate_bundle(tmp_path / "classic", scale=0.01, seed=4)
    assert classic.tradecraft == "classic" and random_twin[0].tradecraft == "random"
    assert not (classic.out_dir / "organisations.parquet").exists()
    assert digest(classic.out_dir)["truth.parquet"] != digest(random_twin[0].out_dir)["truth.parquet"]


def test_unknown_tradecraft_rejected_before_writing(tmp_path: Path) -> None:
    with pytest.raises(GenerateArgumentError, match="unknown tradecraft 'osprey'"):
        generate_bundle(tmp_path / "x", scale=0.01, tradecraft="osprey")
    assert not (tmp_path / "x").exists()


def _read(root: Path, table: str) -> pa.Table:
    if table == "labels":
        return pacsv.read_csv(root / "labels.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    if table == "interactions":
        return ds.dataset(root / "interactions", format="parquet").to_table()
    return pq.read_table(root / f"{table}.parquet")


@pytest.mark.parametrize("table", WORLD_TABLES)
def test_every_table_follows_the_contract(world_report: GenerateReport, table: str) -> None:
    """Columns in contract order (all of them in a drawn world), documented types, required
    values present, counts as reported."""
    t = _read(world_report.out_dir, table)
    spec = contract_columns(table)
    assert t.schema.names == [c.name for c in spec]
    for col in spec:
        if table != "labels":
            assert t.schema.field(col.name).type == ARROW_TYPES[col.type], (table, col.name)
        if col.required:
            assert t.column(col.name).null_count == 0, (table, col.name)
    assert t.num_rows == world_report.counts[table] > 0


def test_ids_unique_and_printable(world_report: GenerateReport) -> None:
    for table, column in (("interactions", "interaction_id"), ("sessions", "session_id"), ("organisations", "org_id")):
        values = _read(world_report.out_dir, table).column(column).to_pylist()
        assert len(set(values)) == len(values), table
        assert all(re.fullmatch(r"[\x21-\x7e]{1,128}", v) for v in values)


def test_organisations_and_ip_owners_values(wsql: Sql) -> None:
    orgs = wsql.rows("select org_id, name, country, domains, kind from organisations")
    assert {k for *_, k in orgs} <= ORG_KINDS
    assert {"ai_lab", "cloud_provider", "university"} <= {k for *_, k in orgs}
    for _, _, country, domains, _ in orgs:
        assert re.fullmatch(r"[A-Z]{2}", country)
        assert all(re.fullmatch(r"[a-z0-9.-]+\.[a-z.]+", d) for d in domains.split(";"))
    owners = wsql.rows("select cidr, owner, asn, kind from ip_owners")
    assert {k for *_, k in owners} == NETWORK_KINDS
    for cidr, owner, asn, _ in owners:
        assert ipaddress.ip_network(cidr).with_prefixlen == cidr and owner and asn > 0
    assert len({c for c, *_ in owners}) == len(owners)


def test_every_ip_has_an_owner(wsql: Sql) -> None:
    networks = [ipaddress.ip_network(c) for c in wsql.column("select cidr from ip_owners")]
    ips = wsql.column("select distinct ip from interactions union select distinct ip from sessions")
    v4 = {n.network_address.packed[0]: n for n in networks if n.version == 4 and n.prefixlen == 8}
    specific = {n for n in networks if n.version == 4 and n.prefixlen == 24}
    for text in ips:
        ip = ipaddress.ip_address(text)
        if ip.version == 6:
            assert any(ip in n for n in networks if n.version == 6), text
        else:
            assert ip.packed[0] in v4 or ipaddress.ip_network(f"{text}/24", strict=False) in specific, text


def test_truth_and_labels_name_organisations_as_the_data_does(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    listed = set(wsql.column("select org_id from organisations"))
    owners = set(wsql.column("select owner from ip_owners"))
    for op in world_manifest["operators"]:
        orgs = wsql.column(f"select distinct organisation from g where operator = '{op['operator']}'")
        assert orgs == [op["organisation"]["reference"]]
        ref = op["organisation"]["reference"]
        assert ref in listed if op["organisation"]["listed"] else ref in owners
    label_orgs = set(wsql.column("select distinct organisation from labels where organisation is not null"))
    truth_orgs = set(wsql.column("select distinct organisation from g where is_distillation"))
    assert label_orgs <= truth_orgs
    per_label = wsql.rows(
        "select operator_label, count(distinct operator), min(operator) from labels join g using(account_id) group by 1"
    )
    assert per_label and all(n == 1 and op.startswith("DIST-") for _, n, op in per_label)


def test_manifest_records_every_operator(world_report: GenerateReport, world_manifest: dict[str, Any], wsql: Sql) -> None:
    assert world_manifest["tradecraft"] == "card_ring,proxy_farm,vm_farm,carrier_nat,careful,vpn_mixed,sub_crews,takeover"
    sizes = dict(wsql.rows("select operator, count(*) from g where is_distillation group by 1"))
    assert {o["operator"]: o["accounts"] for o in world_manifest["operators"]} == sizes
    assert world_report.n_operators == 8
    for op in world_manifest["operators"]:
        assert op["knobs"]["family"] == op["family"]
        assert {"lifecycle", "identity", "schedule", "workload", "infra", "leaks"} <= set(op["knobs"])
    fam = world_manifest["benign_families"]
    assert fam["large_open_customer"]["accounts"] >= 15 and fam["saas_tenant"]["accounts"] >= 10
    assert fam["household"]["groups"] >= 10


def test_readers_take_every_row_and_skip_the_extra_files(world_report: GenerateReport) -> None:
    readers = pytest.importorskip("sybilgraph.ingest.readers")
    root = world_report.out_dir
    known: pa.Array | None = None
    for table in TABLE_ORDER:
        good = bad = 0
        ids = []
        for batch in readers.read_table(root, table, known_accounts=known):
            good += batch.good.num_rows
            bad += batch.bad.num_rows
            if table == "accounts":
                ids.append(batch.good.column("account_id"))
        assert bad == 0 and good == world_report.counts[table], table
        if table == "accounts":
            known = pa.concat_arrays(ids)
    # truth_epochs is not a contract table: readers skip it with a warning, as they skip the manifest.
    assert readers.unknown_entries(root) == ["generator.json", "truth_epochs.parquet"]


def test_family_mode_is_small_and_quick(tmp_path: Path) -> None:
    report = generate_bundle(tmp_path / "f", scale=0.01, seed=2, tradecraft="careful:2,vm_farm")
    manifest = json.loads((report.out_dir / "generator.json").read_text())
    assert sorted(o["family"] for o in manifest["operators"]) == ["careful", "careful", "vm_farm"]
    assert report.counts["accounts"] < 3000


@pytest.mark.parametrize("seed", [11, 23, 37, 41, 59, 73])
def test_random_worlds_build_for_many_seeds(tmp_path: Path, seed: int) -> None:
    """Rare knob combinations still build: tiny worlds, basic invariants."""
    report = generate_bundle(tmp_path / "w", scale=0.002, seed=seed, tradecraft="random")
    manifest = json.loads((report.out_dir / "generator.json").read_text())
    truth = pq.read_table(report.out_dir / "truth.parquet").to_pandas()
    assert len(truth) == report.counts["accounts"] == truth["account_id"].nunique()
    sizes = truth[truth["is_distillation"]].groupby("operator").size().to_dict()
    assert sizes == {o["operator"]: o["accounts"] for o in manifest["operators"]}
    assert 3 <= len(sizes) <= 7 and min(sizes.values()) >= 10
    assert all(o["interactions"] > 0 for o in manifest["operators"])
