"""The Bloom perspective and Browser style: current, consistent, and every search phrase runs."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from neo4j.graph import Node, Relationship
from neo4j.graph import Path as GraphPath

from sybilgraph.attribution import run_attribution
from sybilgraph.db.session import Database
from sybilgraph.ingest import ingest_bundle

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"Account", "Operator", "PaymentInstrument", "IP", "Subnet", "Device", "TlsFingerprint",
          "PromptTemplate", "EmailDomain", "Label", "AttributionRun"}
PHRASES = {
    "accounts of operator $id": "read_operator_accounts",
    "who shares identifiers with account $id": "read_shared_identifiers",
    "flagged operators by size": "list_flagged_operators",
    "evidence path between $a and $b": "find_evidence_path",
    "accounts using card token $t": "read_card_accounts",
}


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_perspective", ROOT / "bloom" / "build_perspective.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    return _builder()


@pytest.fixture(scope="module")
def perspective() -> dict[str, Any]:
    return json.loads((ROOT / "bloom" / "sybilgraph-perspective.json").read_text())


# -- the files -----------------------------------------------------------------------------------
def test_generated_files_are_current(builder: ModuleType) -> None:
    for path, text in builder.render().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python bloom/build_perspective.py"


def test_a_category_per_label_with_caption_icon_and_colour(perspective: dict[str, Any]) -> None:
    categories = {c["name"]: c for c in perspective["categories"]}
    assert set(categories) == LABELS
    for c in categories.values():
        assert c["labels"] == [c["name"]]
        assert re.fullmatch(r"#[0-9A-F]{6}", c["color"]) and c["icon"] and c["captionKeys"]
        assert c["captionKeys"][0] in {p["name"] for p in c["properties"]}
    assert len({c["color"] for c in categories.values()}) == len(categories)


def test_operators_sized_by_score_and_coloured_by_flag(perspective: dict[str, Any]) -> None:
    rules = {r["basedOn"]: r for c in perspective["categories"] if c["name"] == "Operator" for r in c["styleRules"]}
    assert rules["campaign_score"]["applySize"] and rules["campaign_score"]["type"] == "range"
    assert rules["flagged"]["applyColor"] and rules["flagged"]["conditionValue"] is True


def test_search_phrases_carry_the_cypher_files(perspective: dict[str, Any], builder: ModuleType) -> None:
    templates = {t["text"]: t for t in perspective["templates"]}
    assert set(templates) == set(PHRASES)
    for text, name in PHRASES.items():
        assert templates[text]["cypher"] == builder.cypher_path(name).read_text(encoding="utf-8").strip()
        declared = {p["name"] for p in templates[text]["params"]}
        assert declared == set(re.findall(r"\$[a-z]+", text))
        assert declared <= set(re.findall(r"\$[a-z]+", templates[text]["cypher"]))


def test_browser_style_uses_the_perspective_colours(perspective: dict[str, Any]) -> None:
    grass = (ROOT / "bloom" / "sybilgraph.grass").read_text()
    styled = dict(re.findall(r"node\.(\w+) \{\n  color: (#[0-9A-F]{6});", grass))
    assert styled == {c["name"]: c["color"] for c in perspective["categories"]}
    for c in perspective["categories"]:
        assert f'caption: "{{{c["captionKeys"][0]}}}"' in grass


# -- every search phrase against the real database -----------------------------------------------
@pytest.mark.integration
def test_every_search_phrase_runs_and_returns_its_shape(
    db: Database, small_bundle: Path, perspective: dict[str, Any]
) -> None:
    ingest_bundle(small_bundle, db.settings, db)
    run_attribution(db)
    samples = _samples(db)
    cypher = {t["text"]: t["cypher"] for t in perspective["templates"]}

    rows = _run(db, cypher["accounts of operator $id"], id=samples["operator"])
    assert rows and all(_labels(r["o"]) == {"Operator"} and _labels(r["a"]) == {"Account"} for r in rows)
    assert all(r["r"].type == "ATTRIBUTED_TO" for r in rows)
    assert {r["a"]["account_id"] for r in rows} == set(samples["members"])

    rows = _run(db, cypher["who shares identifiers with account $id"], id=samples["members"][0])
    assert rows and all(r["a"]["account_id"] == samples["members"][0] for r in rows)
    assert all(_labels(r["i"]) & LABELS and _labels(r["other"]) == {"Account"} for r in rows)
    assert all(r["other"]["account_id"] != samples["members"][0] for r in rows)

    rows = _run(db, cypher["flagged operators by size"])
    sizes = [r["o"]["size"] for r in rows]
    assert rows and all(r["o"]["flagged"] for r in rows) and sizes == sorted(sizes, reverse=True)

    rows = _run(db, cypher["evidence path between $a and $b"], a=samples["members"][0], b=samples["members"][-1])
    assert len(rows) == 1 and isinstance(rows[0]["p"], GraphPath)
    ends = [n["account_id"] for n in (rows[0]["p"].start_node, rows[0]["p"].end_node)]
    assert ends == [samples["members"][0], samples["members"][-1]]

    rows = _run(db, cypher["accounts using card token $t"], t=samples["card"])
    assert len(rows) >= 2 and all(_labels(r["c"]) == {"PaymentInstrument"} and r["c"]["instrument_id"] == samples["card"] for r in rows)
    assert all(_labels(r["a"]) == {"Account"} for r in rows)
    placed = [r for r in rows if r["o"] is not None]
    assert placed and all(isinstance(r["at"], Relationship) and _labels(r["o"]) == {"Operator"} for r in placed)


def _samples(db: Database) -> dict[str, Any]:
    """A flagged operator, its members, and a card two of them share (from the current run)."""
    row = db.read_raw(
        """MATCH (run:AttributionRun {current: true})
           MATCH (o:Operator {flagged: true})<-[r:ATTRIBUTED_TO]-(a:Account) WHERE r.run_id = run.run_id
           WITH o, collect(a.account_id) AS members ORDER BY size(members) DESC LIMIT 1
           OPTIONAL MATCH (c:PaymentInstrument)<-[:PAID_WITH]-(m:Account) WHERE m.account_id IN members
           WITH o, members, c, count(m) AS n ORDER BY n DESC LIMIT 1
           RETURN o.operator_id AS operator, members, c.instrument_id AS card"""
    )[0]
    assert row["card"], "the generated bundle should give a flagged operator a shared card"
    return {"operator": row["operator"], "members": sorted(row["members"]), "card": row["card"]}


def _run(db: Database, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = db.driver.execute_query(query, params, database_=db.database)
    return [dict(r.items()) for r in records]


def _labels(node: Any) -> set[str]:
    assert isinstance(node, Node), node
    return set(node.labels)
