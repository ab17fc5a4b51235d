"""Writes ``sybilgraph-perspective.json`` (Neo4j Bloom) and ``sybilgraph.grass`` (Neo4j Browser).

Why generated: the perspective and the Browser style must agree on colours, and the search
phrases must run the very Cypher kept in ``<verb>_<noun>.cypher`` files (tested against the real
database). One table below is the source of both files; ``python bloom/build_perspective.py``
rewrites them, and ``tests/jobs/test_bloom_perspective.py`` fails when they are stale.

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
# Where the search phrases' Cypher lives: cypher/bloom/ once moved there, bloom/cypher/ until then.
CYPHER_DIRS = (REPO / "cypher" / "bloom", HERE / "cypher")

NAMESPACE = uuid.UUID("5f0c7a52-9d1e-4c43-8b8a-2f6b3c1d7e90")
EPOCH_MS = 1_780_000_000_000  # fixed: a regenerated file is byte-identical
BLOOM_VERSION = "2.15.0"

FLAGGED_COLOR = "#E0393E"
PROVISIONAL_COLOR = "#FFB020"
CURRENT_RUN_COLOR = "#2E9E5B"


@dataclass(frozen=True)
class Category:
    label: str
    color: str
    icon: str  # a Material icon name, as Bloom's icon picker lists them
    caption: str
    properties: tuple[tuple[str, str], ...]  # (property, Bloom data type)
    size: float = 1.0
    diameter_px: int = 50  # Browser
    rules: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RelType:
    name: str
    color: str
    properties: tuple[tuple[str, str], ...] = ()
    rules: tuple[dict[str, Any], ...] = ()


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


def _size_by(prop: str, lo: float, hi: float, min_size: float, max_size: float) -> dict[str, Any]:
    return {"type": "range", "basedOn": prop, "dataType": "number", "minValue": lo, "maxValue": hi,
            "applySize": True, "minSizeValue": min_size, "maxSizeValue": max_size, "applyColor": False}


def _color_when(prop: str, value: Any, data_type: str, color: str) -> dict[str, Any]:
    return {"type": "single", "basedOn": prop, "dataType": data_type, "condition": "equals",
            "conditionValue": value, "applyColor": True, "colorValue": color, "applySize": False}


CATEGORIES: tuple[Category, ...] = (
    Category("Account", "#4C8EDA", "person", "account_id",
             (("account_id", "string"), ("status", "string"), ("country", "string"), ("email_domain", "string"),
              ("created_at", "DateTime"), ("n_interactions", "number"), ("n_devices", "number"), ("n_ips", "number")),
             size=1.0, diameter_px=40),
    Category("Operator", "#FFC454", "groups", "operator_id",
             (("operator_id", "string"), ("label", "string"), ("size", "number"), ("campaign_score", "number"),
              ("flagged", "boolean"), ("retired", "boolean"), ("last_run_id", "string")),
             size=2.0, diameter_px=80,
             rules=(_size_by("campaign_score", 0.0, 1.0, 1.0, 4.0),
                    _color_when("flagged", True, "boolean", FLAGGED_COLOR))),
    Category("PaymentInstrument", "#8DCC93", "credit_card", "instrument_id",
             (("instrument_id", "string"), ("bin", "string"), ("last4", "string"), ("issuer_country", "string"),
              ("n_accounts", "number"))),
    Category("IP", "#57C7E3", "router", "ip", (("ip", "string"), ("n_accounts", "number"))),
    Category("Subnet", "#2F8FAB", "lan", "cidr", (("cidr", "string"), ("n_accounts", "number"))),
    Category("Device", "#C990C0", "devices", "device_id", (("device_id", "string"), ("n_accounts", "number"))),
    Category("TlsFingerprint", "#D9C8AE", "fingerprint", "fingerprint",
             (("fingerprint", "string"), ("n_accounts", "number"))),
    Category("PromptTemplate", "#F79767", "description", "fingerprint",
             (("fingerprint", "string"), ("n_accounts", "number"))),
    Category("EmailDomain", "#ECB5C9", "alternate_email", "domain", (("domain", "string"), ("n_accounts", "number"))),
    Category("Label", "#7E57C2", "sell", "name", (("name", "string"),)),
    Category("AttributionRun", "#A5ABB6", "history", "run_id",
             (("run_id", "string"), ("status", "string"), ("current", "boolean"), ("started_at", "DateTime"),
              ("finished_at", "DateTime"), ("progress", "string")),
             rules=(_color_when("current", True, "boolean", CURRENT_RUN_COLOR),)),
)

REL_TYPES: tuple[RelType, ...] = (
    RelType("ATTRIBUTED_TO", "#E0393E",
            (("run_id", "string"), ("confidence", "number"), ("provisional", "boolean"), ("evidence_json", "string")),
            rules=(_color_when("provisional", True, "boolean", PROVISIONAL_COLOR),)),
    RelType("PAID_WITH", "#8DCC93", (("count", "number"), ("first_seen", "DateTime"), ("last_seen", "DateTime"))),
    RelType("USED_IP", "#57C7E3", (("count", "number"),)),
    RelType("USED_SUBNET", "#2F8FAB", (("count", "number"),)),
    RelType("IN_SUBNET", "#2F8FAB"),
    RelType("USED_DEVICE", "#C990C0", (("count", "number"),)),
    RelType("USED_TLS", "#D9C8AE", (("count", "number"),)),
    RelType("USED_TEMPLATE", "#F79767", (("count", "number"),)),
    RelType("HAS_EMAIL_DOMAIN", "#ECB5C9"),
    RelType("HAS_LABEL", "#7E57C2", (("source", "string"),)),
    RelType("SCORED_IN", "#A5ABB6", (("run_id", "string"), ("campaign_score", "number"), ("flagged", "boolean"))),
    RelType("SPLIT_FROM", "#6D6D6D", (("run_id", "string"), ("shared", "number"))),
    RelType("MERGED_INTO", "#6D6D6D", (("run_id", "string"), ("shared", "number"))),
    RelType("DECISION", "#000000", (("decision", "string"), ("by", "string"), ("reason", "string"))),
)

PHRASES: tuple[Phrase, ...] = (
    Phrase("accounts of operator $id", "read_operator_accounts", (Param("id", "Operator", "operator_id"),)),
    Phrase("who shares identifiers with account $id", "read_shared_identifiers", (Param("id", "Account", "account_id"),)),
    Phrase("flagged operators by size", "list_flagged_operators"),
    Phrase("evidence path between $a and $b", "find_evidence_path",
           (Param("a", "Account", "account_id"), Param("b", "Account", "account_id"))),
    Phrase("accounts using card token $t", "read_card_accounts", (Param("t", "PaymentInstrument", "instrument_id"),)),
)


# -- shared helpers ------------------------------------------------------------------------------
def cypher_path(name: str) -> Path:
    for directory in CYPHER_DIRS:
        path = directory / f"{name}.cypher"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no search-phrase Cypher named {name!r} in {', '.join(map(str, CYPHER_DIRS))}")


def cypher_text(name: str) -> str:
    return cypher_path(name).read_text(encoding="utf-8").strip()


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


# -- the perspective -----------------------------------------------------------------------------
def perspective() -> dict[str, Any]:
    return {
        "name": "sybilgraph",
        "id": _id("perspective"),
        "type": "STANDARD_PERSPECTIVE",
        "version": BLOOM_VERSION,
        "createdAt": EPOCH_MS,
        "lastEditedAt": EPOCH_MS,
        "categories": [_category(i, c) for i, c in enumerate(CATEGORIES, start=1)],
        "labels": {c.label: [_schema_prop(c.label, p, t) for p, t in c.properties] for c in CATEGORIES},
        "relationshipTypes": [_rel_type(r) for r in REL_TYPES],
        "templates": [_template(i, p) for i, p in enumerate(PHRASES)],
        "sceneActions": [],
        "hiddenRelationshipTypes": [],
        "hiddenCategories": [],
        "hideUncategorisedData": False,
        "parentPerspectiveId": None,
        "palette": {"colors": [c.color for c in CATEGORIES], "currentIndex": 0},
        "metadata": {
            "pathSegments": [],
            "indexes": [{"label": c.label, "type": "native", "propertyKeys": [{"key": c.caption, "metadataProp": False}]}
                        for c in CATEGORIES],
        },
    }


def _category(index: int, c: Category) -> dict[str, Any]:
    return {
        "id": index,
        "name": c.label,
        "labels": [c.label],
        "color": c.color,
        "icon": c.icon,
        "size": c.size,
        "textSize": 1,
        "textAlign": "top",
        "createdAt": EPOCH_MS,
        "lastEditedAt": EPOCH_MS,
        "properties": [{"name": p, "exclude": False, "isCaption": p == c.caption, "dataType": t} for p, t in c.properties],
        "captionKeys": [c.caption],
        "captions": [{"key": c.caption, "type": "property", "isCaption": True, "inTooltip": True, "styles": []}],
        "styleRules": [_rule(index, n, r) for n, r in enumerate(c.rules, start=1)],
    }


def _rel_type(r: RelType) -> dict[str, Any]:
    return {
        "id": r.name,
        "name": r.name,
        "color": r.color,
        "size": 1,
        "textSize": 1,
        "textAlign": "top",
        "properties": [_schema_prop(r.name, p, t) for p, t in r.properties],
        "captionKeys": ["0_REL_TYPE_CAPTION_KEY"],
        "captions": [{"key": r.name, "type": "relationship", "isCaption": True, "inTooltip": True, "styles": []}],
        "styleRules": [_rule(0, n, rule) for n, rule in enumerate(r.rules, start=1)],
    }


def _rule(owner: int, n: int, rule: dict[str, Any]) -> dict[str, Any]:
    return {"id": owner * 100 + n, "disabled": False, "existingField": True, "isGdsData": False, **rule}


def _schema_prop(owner: str, prop: str, data_type: str) -> dict[str, str]:
    return {"propertyKey": prop, "type": owner, "dataType": data_type}


def _template(index: int, p: Phrase) -> dict[str, Any]:
    return {
        "id": _id("template", p.cypher_file),
        "name": p.text,
        "text": p.text,
        "cypher": cypher_text(p.cypher_file),
        "createdAt": EPOCH_MS + index,
        "isUpdateQuery": False,
        "hasCypherErrors": False,
        "params": [
            {"name": f"${q.name}", "dataType": "String", "collapsed": False, "suggestionLabel": q.label,
             "suggestionProp": q.prop, "suggestionBoolean": False, "cypher": None}
            for q in p.params
        ],
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
