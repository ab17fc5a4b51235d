"""GraphQL documents, parsed and validated once each: the document cache and trusted documents.

A request names its document by text (``query``) or by hash (``documentId: "sha256:<hex>"``, or
Apollo's ``extensions.persistedQuery.sha256Hash``). Either way the server looks the document up
by its SHA-256 (the ``query_sha256`` the audit log records) and parses and validates it once:
later requests with the same document skip both, as Strawberry's ``ParserCache`` and
``ValidationCache`` do by text. *Trusted documents* are documents the operator lists in a file
(``api.trusted_documents``); they are parsed and validated at start-up, may be sent by hash
alone, and in ``trusted_documents_only`` mode are the only documents served, so a stolen key
cannot run anything the console would not.

What the rest of the request pipeline needs to know about an operation is worked out here once
per document and operation (``OperationInfo``): its type and root fields, whether its answer may
be cached, how many identifier lookups it makes, and which variables hold identifier values
(redacted in the audit log). Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    get_named_type,
    parse,
    specified_rules,
    type_from_ast,
    validate,
    visit,
)

from sybilgraph.api.audit import bounded_text
from sybilgraph.errors import ConfigError

__all__ = [
    "CACHEABLE_ROOT_FIELDS",
    "LOOKUP_FIELDS",
    "REDACTED",
    "REDACTED_INPUT_FIELDS",
    "Document",
    "DocumentStore",
    "OperationInfo",
    "document_sha256",
    "load_trusted_documents",
]

REDACTED = "[redacted]"
# (input type, field) pairs that carry an identifier value: redacted in logged variables.
REDACTED_INPUT_FIELDS: frozenset[tuple[str, str]] = frozenset({("IdentifierInput", "value")})
# Arguments (of root fields) that carry an identifier handle: redacted too.
REDACTED_ARGUMENTS: frozenset[tuple[str, str]] = frozenset({("accounts", "handle")})
# Root fields whose answers depend only on the data, the role and the arguments (not on who asks
# or on a run's progress): only operations made of these may be served from the response cache.
CACHEABLE_ROOT_FIELDS = frozenset(
    {"account", "accounts", "operator", "operators", "connection", "organisation", "organisations"}
)
# Root fields that look accounts up by an identifier: each one takes a token of the lookup limit.
LOOKUP_FIELDS = frozenset({"accounts"})
MAX_NAME = 128  # characters of an operation or field name kept in the audit log
_SHA256 = re.compile(r"[0-9a-f]{64}")


def document_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class OperationInfo:
    """What the pipeline needs to know about one operation of a valid document."""

    node: OperationDefinitionNode
    name: str | None
    type: str  # query | mutation | subscription
    root_fields: tuple[str, ...]
    cacheable: bool
    lookups: int  # root identifier lookups (aliases count)
    redacted_variables: frozenset[str]  # variables used directly as identifier values
    declared: Mapping[str, GraphQLInputType | None]  # every variable's type


@dataclass
class Document:
    sha256: str
    text: str
    ast: DocumentNode | None
    errors: list[GraphQLError]  # syntax or validation errors; empty for a valid document
    trusted: bool = False
    _operations: dict[str | None, OperationInfo | None] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.ast is not None and not self.errors

    def operation(self, schema: GraphQLSchema, name: str | None) -> OperationInfo | None:
        """The operation ``name`` picks (or the only one); None when there is no such operation."""
        if name in self._operations:
            return self._operations[name]
        try:
            info = _operation_info(schema, self.ast, name) if self.ast is not None else None
        except Exception:  # noqa: BLE001 - an invalid document may defeat the walk; it is refused anyway
            info = None
        self._operations[name] = info
        return info


def _operation_info(schema: GraphQLSchema, document: DocumentNode, name: str | None) -> OperationInfo | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        op = ops[0] if len(ops) == 1 else None
    else:
        op = next((o for o in ops if o.name and o.name.value == name), None)
    if op is None:
        return None
    roots = [s for s in op.selection_set.selections if isinstance(s, FieldNode)]
    root_names = tuple(sorted({s.name.value for s in roots}))
    only_fields = len(roots) == len(op.selection_set.selections)  # fragments at the root: not cached
    type_info = TypeInfo(schema)
    finder = _IdentifierVariables(type_info)
    visit(op, TypeInfoVisitor(type_info, finder))
    declared = {d.variable.name.value: type_from_ast(schema, d.type) for d in op.variable_definitions or ()}
    return OperationInfo(
        node=op,
        name=op.name.value if op.name else None,
        type=op.operation.value,
        root_fields=root_names,
        cacheable=op.operation is OperationType.QUERY and only_fields and bool(root_names)
        and set(root_names) <= CACHEABLE_ROOT_FIELDS,
        lookups=sum(1 for s in roots if s.name.value in LOOKUP_FIELDS),
        redacted_variables=frozenset(finder.found),
        declared=declared,  # type: ignore[arg-type]
    )


class _IdentifierVariables(Visitor):
    """Variables used directly as the value of a redacted input field or argument, e.g. {value: $v}."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found: set[str] = set()

    def enter_object_field(self, node: Any, *_: Any) -> None:
        parent = self.type_info.get_parent_input_type()
        if parent is None or not isinstance(node.value, VariableNode):
            return
        named = get_named_type(parent)
        if named is not None and (named.name, node.name.value) in REDACTED_INPUT_FIELDS:
            self.found.add(node.value.name.value)

    def enter_argument(self, node: Any, *_: Any) -> None:
        field_def = self.type_info.get_field_def()
        if not isinstance(node.value, VariableNode) or field_def is None:
            return
        parent = self.type_info.get_parent_type()
        field_name = next((n for n, f in (parent.fields.items() if parent else ()) if f is field_def), None)
        if (field_name, node.name.value) in REDACTED_ARGUMENTS:
            self.found.add(node.value.name.value)


def redact_variables(info: OperationInfo | None, variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Variables as they may be logged: identifier values and handles replaced by ``[redacted]``,
    names and text bounded. Without a known operation, every value is redacted."""
    if not variables:
        return {}
    out: dict[str, Any] = {}
    for i, (name, value) in enumerate(variables.items()):
        if i >= 50:
            out["[more]"] = len(variables) - 50
            break
        key = bounded_text(str(name), 64)
        if info is None or name in info.redacted_variables or name not in info.declared:
            out[key] = REDACTED
        else:
            out[key] = _bounded(_redact_value(value, info.declared[name]), 4)
    return out


def _redact_value(value: Any, type_: GraphQLInputType | None) -> Any:
    if value is None or type_ is None:
        return value
    if isinstance(type_, GraphQLNonNull):
        return _redact_value(value, type_.of_type)
    if isinstance(type_, GraphQLList):
        if isinstance(value, list):
            return [_redact_value(v, type_.of_type) for v in value]
        return _redact_value(value, type_.of_type)
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, v in value.items():
            f = type_.fields.get(key)
            out[key] = REDACTED if (type_.name, key) in REDACTED_INPUT_FIELDS else _redact_value(v, f.type if f else None)
        return out
    return value


def _bounded(value: Any, depth: int) -> Any:
    """Any JSON value cut to a size the audit log keeps: text to 256 characters, lists to 20
    items, objects to 20 keys, nesting to ``depth`` levels."""
    if isinstance(value, str):
        return bounded_text(value, 256)
    if isinstance(value, list):
        if depth <= 0:
            return f"[list of {len(value)}]"
        items = [_bounded(v, depth - 1) for v in value[:20]]
        return items + ([f"[{len(value) - 20} more]"] if len(value) > 20 else [])
    if isinstance(value, dict):
        if depth <= 0:
            return f"[object of {len(value)} keys]"
        out = {bounded_text(str(k), 64): _bounded(v, depth - 1) for k, v in list(value.items())[:20]}
        if len(value) > 20:
            out["[more]"] = len(value) - 20
        return out
    return value


class DocumentStore:
    """Parsed and validated documents by SHA-256: trusted ones for good, others in an LRU."""

    def __init__(
        self,
        schema: GraphQLSchema,
        rules: list[type[ASTValidationRule]],
        max_tokens: int,
        trusted: Mapping[str, str] | None = None,
        maxsize: int = 1024,
        hide_suggestions: bool = False,
    ) -> None:
        self.schema = schema
        self.hide_suggestions = hide_suggestions
        self.rules = [*specified_rules, *rules]
        self.max_tokens = max_tokens
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, Document] = OrderedDict()
        self.trusted: dict[str, Document] = {}
        for sha, text in (trusted or {}).items():
            doc = self._analyse(sha, text)
            if not doc.valid:
                raise ConfigError(f"trusted document sha256:{sha} is not valid: {doc.errors[0].message}")
            doc.trusted = True
            self.trusted[sha] = doc

    def by_text(self, text: str) -> Document:
        sha = document_sha256(text)
        doc = self.trusted.get(sha)
        if doc is not None:
            return doc
        with self._lock:
            doc = self._recent.get(sha)
            if doc is not None and doc.text == text:
                self._recent.move_to_end(sha)
                return doc
        doc = self._analyse(sha, text)
        with self._lock:
            self._recent[sha] = doc
            if len(self._recent) > self.maxsize:
                self._recent.popitem(last=False)
        return doc

    def by_hash(self, sha: str) -> Document | None:
        """A trusted document by hash (an untrusted document must be sent in full)."""
        return self.trusted.get(sha)

    def _analyse(self, sha: str, text: str) -> Document:
        try:
            ast = parse(text, max_tokens=self.max_tokens)
        except GraphQLError as e:
            return Document(sha, text, None, [e])
        errors = validate(self.schema, ast, self.rules, hide_suggestions=self.hide_suggestions)
        return Document(sha, text, ast, list(errors))


def parse_document_id(value: str) -> str | None:
    """``sha256:<hex>`` (or a bare hex digest) -> the digest; None when it is neither."""
    digest = value[len("sha256:"):] if value.startswith("sha256:") else value
    digest = digest.lower()
    return digest if _SHA256.fullmatch(digest) else None


def load_trusted_documents(path: Path) -> dict[str, str]:
    """A manifest of trusted documents: a JSON object ``{"sha256:<hex>": "<document>"}`` (or a JSON
    list of documents, or a directory of ``.graphql`` files, hashed here). A listed hash must match."""
    texts: dict[str, str] = {}
    if path.is_dir():
        for f in sorted(path.glob("*.graphql")):
            text = f.read_text(encoding="utf-8")
            texts[document_sha256(text)] = text
        return texts
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"trusted documents file {path} cannot be read: {e}") from None
    items = data.items() if isinstance(data, dict) else ((None, t) for t in data) if isinstance(data, list) else None
    if items is None:
        raise ConfigError(f"trusted documents file {path} must hold an object of sha256 -> document, or a list")
    for listed, text in items:
        if not isinstance(text, str):
            raise ConfigError(f"trusted documents file {path}: every document must be a string")
        sha = document_sha256(text)
        if listed is not None and parse_document_id(str(listed)) != sha:
            raise ConfigError(f"trusted documents file {path}: {listed} is not the SHA-256 of its document ({sha})")
        texts[sha] = text
    return texts
