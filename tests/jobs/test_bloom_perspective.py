"""The Bloom perspective and Browser style: in the shape Bloom exports, current, and every search phrase runs.

``fixtures/bloom_export_shape.json`` restates, for a made-up graph, the shape real Bloom exports
have (keys, rule and id formats, data types, icon keys). The generated perspective must have the
same keys at every level and pass the same format checks as the fixture.
"""

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
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "bloom_export_shape.json"
LABELS = {"Account", "Operator", "Organisation", "PaymentInstrument", "IP", "Subnet", "Device", "TlsFingerprint",
          "PromptTemplate", "EmailDomain", "UserAgent", "CardBin", "ApiKey", "NetworkOwner", "Label", "AttributionRun"}
PHRASES = {
    "accounts of operator $id": "read_operator_accounts",
    "who shares identifiers with account $id": "read_shared_identifiers",
    "flagged operators by size": "list_flagged_operators",
    "evidence path between $a and $b": "find_evidence_path",
    "accounts using card token $t": "read_card_accounts",
    "operators of organisation $name": "read_organisation_operators",
}
DATA_TYPES = {"string", "number", "bigint", "boolean", "DateTime", "array"}
ICON_KEY = re.compile(r"no-icon|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
# Properties that hold whole numbers: Bloom types them bigint (number is for floats).
INTEGER_PROPERTIES = {"size", "rank", "shared", "count", "asn", "n_accounts", "n_interactions", "n_devices", "n_ips"}


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


@pytest.fixture(scope="module")
def export_shape() -> dict[str, Any]:
    shape = json.loads(FIXTURE.read_text())
    shape.pop("_about")
    return shape


# -- the shape Bloom exports ---------------------------------------------------------------------
def _rules(p: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every style rule with the data types of its owner's properties."""
    out = []
    for c in p["categories"]:
        types = {q["name"]: q["dataType"] for q in c["properties"]}
        out += [(r, types) for r in c["styleRules"]]
    for t in p["relationshipTypes"]:
        types = {q["propertyKey"]: q["dataType"] for q in t["properties"]}
        out += [(r, types) for r in t["styleRules"]]
    return out


def check_export_formats(p: dict[str, Any]) -> None:
    """The value formats Bloom writes; applied to the fixture too, so the checks are checked."""
    text = json.dumps(p)
    assert "colorValue" not in text
    rule_ids = [r["id"] for r, _ in _rules(p)]
    assert all(isinstance(i, str) and re.fullmatch(r"rule:\d+", i) for i in rule_ids) and len(set(rule_ids)) == len(rule_ids)
    for rule, types in _rules(p):
        prop, _, data_type = rule["basedOn"].rpartition("_")
        assert types.get(prop) == data_type, f"{rule['basedOn']} names no property of that type"
        assert isinstance(rule["minSize"], (int, float)) and rule["minSize"] < rule["maxSize"]
        assert re.fullmatch(r"#[0-9A-Fa-f]{6}", rule["color"])
        if rule["type"] == "single":
            assert data_type == "boolean" and rule["condition"] == "is-true" and rule["applyColor"]
        else:
            assert rule["type"] == "range" and data_type in {"number", "bigint"} and rule["applySize"]
            assert rule["minSizeValue"] < rule["maxSizeValue"]
    for c in p["categories"]:
        assert ICON_KEY.fullmatch(c["icon"]), f"{c['name']}: {c['icon']!r} is not a Bloom icon key"
        assert {q["dataType"] for q in c["properties"]} <= DATA_TYPES
        assert c["captionKeys"] and c["captionKeys"][0] in {q["name"] for q in c["properties"] if q["isCaption"]}
    for props in p["labels"].values():
        assert {q["dataType"] for q in props} <= DATA_TYPES
    for t in p["templates"]:
        assert re.fullmatch(r"tmpl:\d+", t["id"])
        assert all(q["name"].startswith("$") and q["dataType"] == "String" for q in t["params"])


def _same_keys(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> None:
    assert set(ours) == set(theirs), f"{where}: extra {sorted(set(ours) - set(theirs))}, missing {sorted(set(theirs) - set(ours))}"


def test_the_fixture_passes_its_own_format_checks(export_shape: dict[str, Any]) -> None:
    check_export_formats(export_shape)


def test_perspective_has_the_keys_bloom_exports_at_every_level(
    perspective: dict[str, Any], export_shape: dict[str, Any]
) -> None:
    shape_category = export_shape["categories"][0]
    shape_rules = {r["type"]: r for r in shape_category["styleRules"]}
    shape_rel = export_shape["relationshipTypes"][0]
    shape_template = export_shape["templates"][0]
    _same_keys(perspective, export_shape, "perspective")
    _same_keys(perspective["metadata"], export_shape["metadata"], "metadata")
    for c in perspective["categories"]:
        _same_keys(c, shape_category, c["name"])
        for q in c["properties"]:
            _same_keys(q, shape_category["properties"][0], f"{c['name']} property")
    for props in perspective["labels"].values():
        for q in props:
            _same_keys(q, export_shape["labels"]["Borrower"][0], "label property")
    for t in perspective["relationshipTypes"]:
        _same_keys(t, shape_rel, t["name"])
    for rule, _ in _rules(perspective):
        _same_keys(rule, shape_rules[rule["type"]], f"rule {rule['id']}")
    for t in perspective["templates"]:
        _same_keys(t, shape_template, t["text"])
        for q in t["params"]:
            _same_keys(q, shape_template["params"][0], f"{t['text']} parameter")
    for index in perspective["metadata"]["indexes"]:
        _same_keys(index, export_shape["metadata"]["indexes"][0], "index")


def test_perspective_values_are_in_bloom_formats(perspective: dict[str, Any]) -> None:
    check_export_formats(perspective)
    typed = [q for props in perspective["labels"].values() for q in props]
    typed += [{"propertyKey": q["propertyKey"], "dataType": q["dataType"]}
              for t in perspective["relationshipTypes"] for q in t["properties"]]
    wrong = [q["propertyKey"] for q in typed if q["propertyKey"] in INTEGER_PROPERTIES and q["dataType"] != "bigint"]
    assert wrong == []


# -- what the perspective shows ------------------------------------------------------------------
def test_generated_files_are_current(builder: ModuleType) -> None:
    for path, text in builder.render().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python bloom/build_perspective.py"


def test_a_category_per_label_with_caption_icon_and_colour(perspective: dict[str, Any]) -> None:
    categories = {c["name"]: c for c in perspective["categories"]}
    assert set(categories) == LABELS
    for c in categories.values():
        assert c["labels"] == [c["name"]]
        assert re.fullmatch(r"#[0-9A-F]{6}", c["color"])
    assert len({c["color"] for c in categories.values()}) == len(categories)
    assert categories["Operator"]["icon"] != "no-icon" and categories["Account"]["icon"] != "no-icon"


def _rule_on(perspective: dict[str, Any], owner: str, based_on: str) -> dict[str, Any]:
    owners = perspective["categories"] + perspective["relationshipTypes"]
    return next(r for o in owners if o["name"] == owner for r in o["styleRules"] if r["basedOn"] == based_on)


def test_operators_sized_by_score_red_when_flagged_amber_when_provisional(
    perspective: dict[str, Any], builder: ModuleType
) -> None:
    size = _rule_on(perspective, "Operator", "campaign_score_number")
    assert size["type"] == "range" and size["applySize"] and not size["applyColor"]
    assert (size["minSizeValue"], size["maxSizeValue"]) == (0.0, 1.0) and (size["minSize"], size["maxSize"]) == (1.0, 4.0)
    flagged = _rule_on(perspective, "Operator", "flagged_boolean")
    assert flagged["condition"] == "is-true" and flagged["color"] == builder.FLAGGED_COLOR
    provisional = _rule_on(perspective, "ATTRIBUTED_TO", "provisional_boolean")
    assert provisional["condition"] == "is-true" and provisional["color"] == builder.PROVISIONAL_COLOR
    current = _rule_on(perspective, "AttributionRun", "current_boolean")
    assert current["color"] == builder.CURRENT_RUN_COLOR


def test_organisations_and_their_hypotheses_have_a_category_and_a_style(perspective: dict[str, Any]) -> None:
    org = next(c for c in perspective["categories"] if c["name"] == "Organisation")
    assert {q["name"] for q in org["properties"]} >= {"org_id", "name", "confirmed"} and org["captionKeys"] == ["name"]
    rel = next(t for t in perspective["relationshipTypes"] if t["name"] == "LIKELY_RUN_BY")
    assert {q["propertyKey"]: q["dataType"] for q in rel["properties"]} == {"score": "number", "rank": "bigint", "run_id": "string"}


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

    _attribute_organisations(db, samples["operator"])
    rows = _run(db, cypher["operators of organisation $name"], name="Kestrel Labs")
    assert [(r["o"]["operator_id"], r["h"]["rank"]) for r in rows] == [(samples["operator"], 1)]
    assert all(_labels(r["org"]) == {"Organisation"} and r["h"].type == "LIKELY_RUN_BY" for r in rows)
    assert _run(db, cypher["operators of organisation $name"], name="Decoy Cloud") == []  # a stale run's hypothesis


def _attribute_organisations(db: Database, operator: str) -> None:
    """Organisation hypotheses in the documented shape (issue 15): one for the current run, and
    one left over from an earlier run, which the phrase must not show."""
    db.driver.execute_query(
        """MATCH (run:AttributionRun {current: true}), (o:Operator {operator_id: $operator})
           MERGE (k:Organisation {org_id: 'org-kestrel'}) SET k.name = 'Kestrel Labs', k.confirmed = true
           MERGE (d:Organisation {org_id: 'org-decoy'}) SET d.name = 'Decoy Cloud', d.confirmed = false
           CREATE (o)-[:LIKELY_RUN_BY {score: 0.93, rank: 1, run_id: run.run_id}]->(k)
           CREATE (o)-[:LIKELY_RUN_BY {score: 0.40, rank: 2, run_id: 'run-earlier'}]->(d)""",
        {"operator": operator}, database_=db.database,
    )


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
