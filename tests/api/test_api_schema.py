"""The schema as a contract: the committed SDL, the permission rules, and full field coverage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    visit,
)

from sybilgraph.api.documents import REDACTED_INPUT_FIELDS
from sybilgraph.settings.api import Role
from sybilgraph.api.masking import POLICY
from sybilgraph.api.schema import build_schema
from sybilgraph.api.schema_export import SCHEMA_FILE, sdl
from sybilgraph.api.schema_export import main as export_main
from sybilgraph.api.types import MaskedDirective, MaskIdentifier, RequireRole
from sybilgraph.identifiers import KINDS
from tests.api.api_queries import MUTATIONS, READ_EXAMPLES
from tests.api.api_support import ADMIN, ApiServer

SCHEMA = build_schema()
GQL = SCHEMA._schema

# A leaf field whose name says it holds an identifier value (counters such as nIps do not).
IDENTIFIER_NAME = re.compile(
    r"(?i)(^value$|ip$|ipaddress|cidr|subnet|device|fingerprint|tls|template|instrument|card|^bin$|last4|domain|token$)"
)
COUNTER = re.compile(r"^n[A-Z]|Tokens$")
# String fields on identifier types that hold no identifier value, and why.
NOT_IDENTIFIERS = {
    ("IdentifierAccountEdge", "cursor"),  # encodes the account id only
    # AES-SIV encryptions of the value under the server's key (handles.py): opaque to every role.
    ("IdentifierUse", "handle"), ("SharedIdentifier", "handle"), ("IdentifierRef", "handle"), ("TieIdentifier", "handle"),
}


def object_types() -> list[GraphQLObjectType]:
    return [
        t for name, t in GQL.type_map.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
    ]


def strawberry_field(type_name: str, field_name: str):  # type: ignore[no-untyped-def]
    f = SCHEMA.get_field_for_type(field_name, type_name)
    assert f is not None, (type_name, field_name)
    return f


def carries_identifier(type_name: str, field_name: str, leaf: object) -> bool:
    if isinstance(leaf, GraphQLEnumType) or (type_name, field_name) in NOT_IDENTIFIERS:
        return False
    if not isinstance(leaf, GraphQLScalarType) or leaf.name not in ("String", "ID"):
        return False
    if COUNTER.search(field_name):
        return False
    return bool(IDENTIFIER_NAME.search(field_name)) or "Identifier" in type_name


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sdl(), (
        "schema.graphql is stale: run `python -m sybilgraph.api.schema_export`"
    )


def test_schema_export_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schema.graphql"
    out.write_text("type Query { stale: Int }\n")
    assert export_main(["--check", "--out", str(out)]) == 1
    assert "is stale" in capsys.readouterr().err
    assert export_main(["--out", str(out)]) == 0
    assert export_main(["--check", "--out", str(out)]) == 0
    assert out.read_text() == sdl()


def test_every_identifier_field_has_a_masking_rule() -> None:
    checked = []
    for t in object_types():
        for name, field in t.fields.items():
            leaf = get_named_type(field.type)
            if not carries_identifier(t.name, name, leaf):
                continue
            sf = strawberry_field(t.name, name)
            masks = [e for e in sf.extensions if isinstance(e, MaskIdentifier)]
            directives = [d for d in sf.directives if isinstance(d, MaskedDirective)]
            assert masks, f"{t.name}.{name} carries an identifier but has no MaskIdentifier rule"
            assert directives, f"{t.name}.{name} carries an identifier but has no @masked directive"
            kind = masks[0].kind
            if kind is None:
                assert "kind" in t.fields, f"{t.name}.{name} masks by the object's kind, but {t.name} has no kind"
            else:
                assert kind in POLICY, f"{t.name}.{name} masks as unknown kind {kind!r}"
            checked.append(f"{t.name}.{name}")
    # The walk must actually find the identifier fields (a broken walk would pass vacuously).
    assert {"Account.emailDomain", "Account.signupIp", "IdentifierUse.value", "SharedIdentifier.value",
            "IdentifierRef.value"} <= set(checked)


def test_identifier_inputs_are_redacted_in_the_audit_log() -> None:
    for name, t in GQL.type_map.items():
        if isinstance(t, GraphQLInputObjectType):
            for field_name, f in t.fields.items():
                leaf = get_named_type(f.type)
                if carries_identifier(name, field_name, leaf):
                    assert (name, field_name) in REDACTED_INPUT_FIELDS, f"{name}.{field_name} is not redacted"


def test_every_kind_has_a_mask_for_every_role() -> None:
    for kind in KINDS:
        assert set(POLICY[kind]) == set(Role), kind


def test_every_mutation_requires_the_analyst_role() -> None:
    mutation = GQL.mutation_type
    assert mutation is not None
    for name in mutation.fields:
        sf = strawberry_field("Mutation", name)
        guards = [e for e in sf.extensions if isinstance(e, RequireRole)]
        assert guards and guards[0].role is Role.ANALYST, name


class _FieldCollector(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.seen: set[tuple[str, str]] = set()

    def enter_field(self, node, *_):  # type: ignore[no-untyped-def]
        parent = self.type_info.get_parent_type()
        if parent is not None and not node.name.value.startswith("__"):
            self.seen.add((parent.name, node.name.value))


@pytest.mark.integration
def test_every_field_is_exercised(server: ApiServer) -> None:
    ti = TypeInfo(GQL)
    collector = _FieldCollector(ti)
    for doc in [d for d, _ in READ_EXAMPLES] + MUTATIONS:
        visit(parse(doc), TypeInfoVisitor(ti, collector))
    every = {(t.name, f) for t in object_types() for f in t.fields}
    missing = sorted(every - collector.seen)
    assert not missing, f"schema fields no test document selects: {missing}"
    with server.client(ADMIN) as c:
        for doc, variables in READ_EXAMPLES:
            body = c.gql(doc, variables)
            assert "errors" not in body, (doc[:60], body.get("errors"))
