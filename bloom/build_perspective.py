"""Writes ``sybilgraph-perspective.json`` (Neo4j Bloom) and ``sybilgraph.grass`` (Neo4j Browser).

Why generated: the perspective and the Browser style must agree on colours, and the search
phrases must run the very Cypher kept in ``cypher/bloom/<verb>_<noun>.cypher`` (tested against
the real database). One table below is the source of both files; ``python bloom/build_perspective.py``
rewrites them, and ``tests/jobs/test_bloom_perspective.py`` fails when they are stale.

The perspective is written in the shape Bloom itself exports (read from public exports of
Bloom 1.4 to 2.x; ``tests/jobs/fixtures/bloom_export_shape.json`` restates that shape and the
tests hold this file to it): a style rule names its property as ``<property>_<dataType>``
(``flagged_boolean``), tests booleans with ``condition: "is-true"``, carries its colour under
``color``, drawn sizes as ``size``/``minSize``/``maxSize`` and a range rule's data bounds as
``minSizeValue``/``maxSizeValue``; rule ids are strings (``rule:<n>``), template ids
``tmpl:<n>``; integer properties are ``bigint``, floats ``number``; icons are Bloom's icon keys
(upper-case UUIDs of its icon set), or ``no-icon``.

Output is deterministic (fixed ids and timestamps) so regenerating changes nothing unless the
table or a Cypher file changed.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PERSPECTIVE_FILE = HERE / "sybilgraph-perspective.json"
GRASS_FILE = HERE / "sybilgraph.grass"
CYPHER_DIR = REPO / "cypher" / "bloom"

NAMESPACE = uuid.UUID("5f0c7a52-9d1e-4c43-8b8a-2f6b3c1d7e90")
EPOCH_MS = 1_780_000_000_000  # fixed: a regenerated file is byte-identical
BLOOM_VERSION = "2.15.0"

FLAGGED_COLOR = "#E0393E"
PROVISIONAL_COLOR = "#FFB020"
CURRENT_RUN_COLOR = "#2E9E5B"
CONFIRMED_ORG_COLOR = "#5B2C83"

# Bloom's icon keys, each as seen on a category of that kind in public Bloom exports (Neo4j's
# cybersecurity and fraud examples). A kind no export shows gets no icon rather than a guess.
NO_ICON = "no-icon"
ICON_PERSON = "DB188874-D25F-4B34-A296-E5E950072319"  # "User" (cybersecurity example)
ICON_GROUP = "1BA78CC1-ED89-46D5-9D2B-D78DC944A59D"  # "Group" (cybersecurity example)
ICON_CARD = "ACC41CDE-15AE-456B-9923-68134BD290A0"  # "CreditCard", "Card Accounts" (fraud examples)
ICON_IP = "15EF77A8-3607-4632-861B-13ADEF8C2A67"  # "IP" (fraud example)
ICON_COMPUTER = "63AF6740-290B-43AD-8EE4-9B4966249BD6"  # "Computer" (cybersecurity example)
ICON_INSTITUTION = "36ADC22A-4278-4483-8CF4-5CC5F66CA25D"  # "Financial Institute" (fraud examples)

# Bloom's data types for properties; temporal values are DateTime.
STRING, NUMBER, BIGINT, BOOLEAN, DATETIME, ARRAY = "string", "number", "bigint", "boolean", "DateTime", "array"


@dataclass(frozen=True)
class Rule:
    """One rule-based style: colour when a boolean is true, or size over a numeric range."""

    prop: str
    data_type: str
    color: str | None = None  # single rule: the colour applied when the condition holds
    size_range: tuple[float, float] | None = None  # range rule: data bounds (minSizeValue, maxSizeValue)
    drawn_sizes: tuple[float, float] = (1.0, 2.0)  # drawn size at the bounds (minSize, maxSize)


@dataclass(frozen=True)
class Category:
    label: str
    color: str
    icon: str  # a Bloom icon key (see above) or NO_ICON
    caption: str
    properties: tuple[tuple[str, str], ...]  # (property, Bloom data type)
    size: float = 1.0
    diameter_px: int = 50  # Browser
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class RelType:
    name: str
    color: str
    properties: tuple[tuple[str, str], ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Param:
    name: str  # without the $
    label: str
    prop: str


@dataclass(frozen=True)
class Phrase:
    text: str  # what the investigator types; $name marks a parameter
    cypher_file: str  # <verb>_<noun>
    params: tuple[Param, ...] = field(default_factory=tuple)


def _color_when_true(prop: str, color: str) -> Rule:
    return Rule(prop, BOOLEAN, color=color)


def _size_by(prop: str, lo: float, hi: float, min_size: float, max_size: float) -> Rule:
    return Rule(prop, NUMBER, size_range=(lo, hi), drawn_sizes=(min_size, max_size))


_COUNTED = (("count", BIGINT), ("first_seen", DATETIME), ("last_seen", DATETIME))

CATEGORIES: tuple[Category, ...] = (
    Category("Account", "#4C8EDA", ICON_PERSON, "account_id",
             (("account_id", STRING), ("status", STRING), ("country", STRING), ("email_domain", STRING),
              ("created_at", DATETIME), ("n_interactions", BIGINT), ("n_devices", BIGINT), ("n_ips", BIGINT)),
             size=1.0, diameter_px=40),
    Category("Operator", "#FFC454", ICON_GROUP, "operator_id",
             (("operator_id", STRING), ("label", STRING), ("size", BIGINT), ("campaign_score", NUMBER),
              ("flagged", BOOLEAN), ("retired", BOOLEAN), ("last_run_id", STRING)),
             size=2.0, diameter_px=80,
             rules=(_size_by("campaign_score", 0.0, 1.0, 1.0, 4.0), _color_when_true("flagged", FLAGGED_COLOR))),
    Category("Organisation", "#9B6FC6", ICON_INSTITUTION, "name",
             (("org_id", STRING), ("name", STRING), ("confirmed", BOOLEAN), ("country", STRING), ("kind", STRING),
              ("domains", ARRAY)),
             size=2.5, diameter_px=90,
             rules=(_color_when_true("confirmed", CONFIRMED_ORG_COLOR),)),
    Category("PaymentInstrument", "#8DCC93", ICON_CARD, "instrument_id",
             (("instrument_id", STRING), ("bin", STRING), ("last4", STRING), ("issuer_country", STRING),
              ("n_accounts", BIGINT))),
    Category("IP", "#57C7E3", ICON_IP, "ip", (("ip", STRING), ("n_accounts", BIGINT), ("owner", STRING), ("asn", BIGINT),
                                               ("net_kind", STRING))),
    Category("Subnet", "#2F8FAB", NO_ICON, "cidr", (("cidr", STRING), ("n_accounts", BIGINT))),
    Category("Device", "#C990C0", ICON_COMPUTER, "device_id", (("device_id", STRING), ("n_accounts", BIGINT))),
    Category("TlsFingerprint", "#D9C8AE", NO_ICON, "fingerprint", (("fingerprint", STRING), ("n_accounts", BIGINT))),
    Category("PromptTemplate", "#F79767", NO_ICON, "fingerprint", (("fingerprint", STRING), ("n_accounts", BIGINT))),
    Category("EmailDomain", "#ECB5C9", NO_ICON, "domain", (("domain", STRING), ("n_accounts", BIGINT))),
    Category("UserAgent", "#B3B3B3", NO_ICON, "user_agent", (("user_agent", STRING), ("n_accounts", BIGINT))),
    Category("CardBin", "#B5D99C", NO_ICON, "bin", (("bin", STRING), ("n_accounts", BIGINT))),
    Category("ApiKey", "#F2C94C", NO_ICON, "api_key_id", (("api_key_id", STRING), ("n_accounts", BIGINT))),
    Category("NetworkOwner", "#6FA8DC", NO_ICON, "owner", (("owner", STRING), ("n_accounts", BIGINT))),
    Category("Label", "#7E57C2", NO_ICON, "name", (("name", STRING),)),
    Category("AttributionRun", "#A5ABB6", NO_ICON, "run_id",
             (("run_id", STRING), ("status", STRING), ("current", BOOLEAN), ("started_at", DATETIME),
              ("finished_at", DATETIME), ("progress", STRING)),
             rules=(_color_when_true("current", CURRENT_RUN_COLOR),)),
)

REL_TYPES: tuple[RelType, ...] = (
    RelType("ATTRIBUTED_TO", "#E0393E",
            (("run_id", STRING), ("confidence", NUMBER), ("provisional", BOOLEAN), ("evidence_json", STRING)),
            rules=(_color_when_true("provisional", PROVISIONAL_COLOR),)),
    RelType("LIKELY_RUN_BY", "#9B6FC6", (("score", NUMBER), ("rank", BIGINT), ("run_id", STRING)),
            rules=(_size_by("score", 0.0, 1.0, 1.0, 4.0),)),
    RelType("PAID_WITH", "#8DCC93", _COUNTED),
    RelType("USED_IP", "#57C7E3", _COUNTED),
    RelType("USED_SUBNET", "#2F8FAB", _COUNTED),
    RelType("IN_SUBNET", "#2F8FAB"),
    RelType("USED_DEVICE", "#C990C0", _COUNTED),
    RelType("USED_TLS", "#D9C8AE", _COUNTED),
    RelType("USED_TEMPLATE", "#F79767", _COUNTED),
    RelType("HAS_EMAIL_DOMAIN", "#ECB5C9"),
    RelType("USED_USER_AGENT", "#B3B3B3", _COUNTED),
    RelType("USED_CARD_BIN", "#B5D99C", _COUNTED),
    RelType("USED_API_KEY", "#F2C94C", _COUNTED),
    RelType("USED_NETWORK", "#6FA8DC", _COUNTED),
    RelType("HAS_LABEL", "#7E57C2", (("source", STRING), ("organisation", STRING))),
    RelType("SCORED_IN", "#A5ABB6", (("run_id", STRING), ("campaign_score", NUMBER), ("flagged", BOOLEAN))),
    RelType("SPLIT_FROM", "#6D6D6D", (("run_id", STRING), ("shared", BIGINT))),
    RelType("MERGED_INTO", "#6D6D6D", (("run_id", STRING), ("shared", BIGINT))),
    RelType("DECISION", "#000000", (("decision", STRING), ("by", STRING), ("reason", STRING), ("at", DATETIME))),
)

PHRASES: tuple[Phrase, ...] = (
    Phrase("accounts of operator $id", "read_operator_accounts", (Param("id", "Operator", "operator_id"),)),
    Phrase("who shares identifiers with account $id", "read_shared_identifiers", (Param("id", "Account", "account_id"),)),
    Phrase("flagged operators by size", "list_flagged_operators"),
    Phrase("evidence path between $a and $b", "find_evidence_path",
           (Param("a", "Account", "account_id"), Param("b", "Account", "account_id"))),
    Phrase("accounts using card token $t", "read_card_accounts", (Param("t", "PaymentInstrument", "instrument_id"),)),
    Phrase("operators of organisation $name", "read_organisation_operators", (Param("name", "Organisation", "name"),)),
)


# -- shared helpers ------------------------------------------------------------------------------
def cypher_path(name: str) -> Path:
    path = CYPHER_DIR / f"{name}.cypher"
    if not path.is_file():
        raise FileNotFoundError(f"no search-phrase Cypher named {name!r} in {CYPHER_DIR}")
    return path


def cypher_text(name: str) -> str:
    return cypher_path(name).read_text(encoding="utf-8").strip()


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def based_on(prop: str, data_type: str) -> str:
    """How Bloom names the property a rule is based on: ``<property>_<dataType>``."""
    return f"{prop}_{data_type}"


# -- the perspective -----------------------------------------------------------------------------
def perspective() -> dict[str, Any]:
    rule_ids = iter(range(1, 1000))
    return {
        "name": "sybilgraph",
        "id": _id("perspective"),
        "categories": [_category(i, c, rule_ids) for i, c in enumerate(CATEGORIES, start=1)],
        "labels": {c.label: [_schema_prop(c.label, p, t) for p, t in c.properties] for c in CATEGORIES},
        "relationshipTypes": [_rel_type(r, rule_ids) for r in REL_TYPES],
        "palette": {"colors": [c.color for c in CATEGORIES], "currentIndex": 0},
        "createdAt": EPOCH_MS,
        "lastEditedAt": EPOCH_MS,
        "templates": [_template(i, p) for i, p in enumerate(PHRASES, start=1)],
        "sceneActions": [],
        "hiddenRelationshipTypes": [],
        "hiddenCategories": [],
        "hideUncategorisedData": False,
        "isAuto": False,
        "parentPerspectiveId": None,
        "metadata": {
            "pathSegments": [],
            # The key each label is looked up by (its uniqueness constraint): Bloom searches it.
            "indexes": [{"label": c.label, "type": "native",
                         "propertyKeys": [{"key": c.properties[0][0], "metadataProp": False}]} for c in CATEGORIES],
            "stats": {"labels": {}, "relationshipTypes": {}},
        },
        "version": BLOOM_VERSION,
    }


def _category(index: int, c: Category, rule_ids: Any) -> dict[str, Any]:
    return {
        "id": index,
        "name": c.label,
        "color": c.color,
        "size": c.size,
        "icon": c.icon,
        "labels": [c.label],
        "properties": [{"name": p, "exclude": False, "isCaption": p == c.caption, "dataType": t} for p, t in c.properties],
        "captionKeys": [c.caption],
        "createdAt": EPOCH_MS,
        "lastEditedAt": EPOCH_MS,
        "styleRules": [_rule(next(rule_ids), r, c.color) for r in c.rules],
    }


def _rel_type(r: RelType, rule_ids: Any) -> dict[str, Any]:
    return {
        "id": r.name,
        "name": r.name,
        "properties": [_schema_prop(r.name, p, t) for p, t in r.properties],
        "color": r.color,
        "size": 1,
        "captionKeys": ["0_REL_TYPE_CAPTION_KEY"],
        "styleRules": [_rule(next(rule_ids), rule, r.color) for rule in r.rules],
    }


def _rule(n: int, rule: Rule, base_color: str) -> dict[str, Any]:
    """A style rule with every key Bloom writes; a single rule tests a boolean, a range rule sizes."""
    is_range = rule.size_range is not None
    out: dict[str, Any] = {
        "id": f"rule:{EPOCH_MS + n}",
        "type": "range" if is_range else "single",
        "basedOn": based_on(rule.prop, rule.data_type),
        "condition": None if is_range else "is-true",
        "conditionValue": None,
        "rangeValue": None,
        "applyColor": rule.color is not None,
        "color": rule.color or base_color,
        "applySize": is_range,
        "size": rule.drawn_sizes[0],
        "minSize": rule.drawn_sizes[0],
        "maxSize": rule.drawn_sizes[1],
        "minColor": "#D5EEE2",
        "midColor": "#81CCA8",
        "maxColor": "#428C6A",
        "minPoint": "unprocessed",
        "maxPoint": "unprocessed",
        "applyCaption": False,
        "captionKeys": [],
        "valuesMapper": [],
        "existingValues": [],
        "isTimeZoneConvertEnabled": False,
        "selectedTimeZone": "Z",
    }
    if rule.size_range is not None:
        out["minSizeValue"], out["maxSizeValue"] = rule.size_range
    return out


def _schema_prop(owner: str, prop: str, data_type: str) -> dict[str, str]:
    return {"propertyKey": prop, "type": owner, "dataType": data_type}


def _template(index: int, p: Phrase) -> dict[str, Any]:
    return {
        "name": p.text,
        "id": f"tmpl:{EPOCH_MS + index}",
        "createdAt": EPOCH_MS + index,
        "text": p.text,
        "cypher": cypher_text(p.cypher_file),
        "isUpdateQuery": None,
        "params": [
            {"name": f"${q.name}", "dataType": "String", "collapsed": False, "suggestionLabel": q.label,
             "suggestionProp": q.prop, "suggestionBoolean": False, "cypher": None}
            for q in p.params
        ],
        "hasCypherErrors": False,
    }


# -- the Browser style ---------------------------------------------------------------------------
def grass() -> str:
    blocks = [
        _block("node", {"diameter": "50px", "color": "#A5ABB6", "border-color": "#9AA1AC", "border-width": "2px",
                        "text-color-internal": "#FFFFFF", "font-size": "10px"}),
        _block("relationship", {"color": "#A5ABB6", "shaft-width": "1px", "font-size": "8px", "padding": "3px",
                                "text-color-external": "#000000", "text-color-internal": "#FFFFFF",
                                "caption": '"<type>"'}),
    ]
    for c in CATEGORIES:
        blocks.append(_block(f"node.{c.label}", {
            "color": c.color, "border-color": _darker(c.color), "border-width": "2px",
            "text-color-internal": _text_on(c.color), "diameter": f"{c.diameter_px}px", "caption": f'"{{{c.caption}}}"',
        }))
    for r in REL_TYPES:
        blocks.append(_block(f"relationship.{r.name}", {
            "color": r.color, "shaft-width": "2px" if r.name == "ATTRIBUTED_TO" else "1px", "caption": '"<type>"',
        }))
    # No comment header: Browser's GraSS parser is not documented to accept comments (docs/bloom.md).
    return "\n".join(blocks)


def _block(selector: str, props: dict[str, str]) -> str:
    return selector + " {\n" + "".join(f"  {k}: {v};\n" for k, v in props.items()) + "}\n"


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _darker(color: str, factor: float = 0.8) -> str:
    r, g, b = (int(v * factor) for v in _rgb(color))
    return f"#{r:02X}{g:02X}{b:02X}"


def _text_on(color: str) -> str:
    r, g, b = _rgb(color)
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#FFFFFF"


# -- the command ---------------------------------------------------------------------------------
def render() -> dict[Path, str]:
    return {PERSPECTIVE_FILE: json.dumps(perspective(), indent=2) + "\n", GRASS_FILE: grass()}


def main() -> int:
    for path, text in render().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
