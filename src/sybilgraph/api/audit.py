"""The audit log: one hash-chained JSON line per GraphQL operation, allowed, denied or failed.

Investigators look at people's accounts, so who looked at what, when, from where, and what
came of it must be kept where it cannot be quietly edited. Each record carries the hash of the
record before it (``prev``) and its own hash over its canonical JSON (``hash``); changing,
removing or reordering any record breaks the chain at that line, which ``verify_chain`` reports
(``python -m sybilgraph.api.audit verify PATH``). Cutting records off the *end* leaves a valid
shorter chain: compare the head hash with one kept elsewhere (``expected_head``).

Appends take an exclusive ``flock`` and re-read the tail when another process wrote since, so
several server processes can share one file. Variables that hold identifier values are
redacted before they are written (``redact_variables``); the query text itself is not kept,
only its SHA-256, so inline literals never reach the log.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    get_named_type,
    type_from_ast,
    visit,
)

__all__ = [
    "GENESIS",
    "REDACTED",
    "REDACTED_INPUT_FIELDS",
    "AuditLog",
    "ChainReport",
    "canonical_json",
    "record_hash",
    "redact_variables",
    "verify_chain",
]

GENESIS = "0" * 64
REDACTED = "[redacted]"
# (input type, field) pairs that carry an identifier value: redacted in logged variables.
REDACTED_INPUT_FIELDS: frozenset[tuple[str, str]] = frozenset({("IdentifierInput", "value")})


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of the record without its own ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


class AuditLog:
    """Append-only, hash-chained JSONL. Thread-safe, and safe across processes (flock)."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._known_size = -1
        self._prev = GENESIS
        self._seq = 0

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _read_tail(self) -> tuple[str, int]:
        """(hash, seq) of the last record in the file; GENESIS and 0 for an empty file."""
        with open(self.path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            if end == 0:
                return GENESIS, 0
            block = 4096
            data = b""
            pos = end
            while pos > 0:
                step = min(block, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
                lines = data.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or pos == 0:
                    last = lines[-1]
                    break
                block *= 2
        record = json.loads(last)
        return str(record["hash"]), int(record["seq"])

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Chain and write one record; returns it as written (with seq, prev, hash)."""
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size != self._known_size:
                    self._prev, self._seq = self._read_tail()
                full = {**record, "seq": self._seq + 1, "prev": self._prev}
                full["hash"] = record_hash(full)
                line = canonical_json(full) + b"\n"
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
                if self.fsync:
                    os.fsync(fd)
                self._known_size = size + len(line)
                self._prev = full["hash"]
                self._seq = full["seq"]
                return full
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    head: str  # hash of the last good record
    line: int | None = None  # first bad line (1-based)
    error: str | None = None


def verify_chain(path: Path, expected_head: str | None = None) -> ChainReport:
    """Walk the file; the first line whose hash, link or sequence is wrong ends the walk."""
    prev, seq, n = GENESIS, 0, 0
    if not path.exists():
        return ChainReport(ok=expected_head in (None, GENESIS), records=0, head=GENESIS,
                           error=None if expected_head in (None, GENESIS) else "the audit log does not exist")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                return ChainReport(False, n, prev, lineno, "not a JSON record")
            if not isinstance(record, dict) or "hash" not in record:
                return ChainReport(False, n, prev, lineno, "record has no hash")
            if record.get("prev") != prev:
                return ChainReport(False, n, prev, lineno, "record does not link to the one before it")
            if record.get("seq") != seq + 1:
                return ChainReport(False, n, prev, lineno, f"sequence number {record.get('seq')} where {seq + 1} was expected")
            if record_hash(record) != record["hash"]:
                return ChainReport(False, n, prev, lineno, "record content does not match its hash")
            prev, seq, n = record["hash"], seq + 1, n + 1
    if expected_head is not None and prev != expected_head:
        return ChainReport(False, n, prev, None, "the chain does not end at the expected head (records removed from the end?)")
    return ChainReport(True, n, prev)


# -- variable redaction -----------------------------------------------------------------------
class _IdentifierVariables(Visitor):
    """Variables used directly as the value of a redacted input field, e.g. {value: $v}."""

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
            if (type_.name, key) in REDACTED_INPUT_FIELDS:
                out[key] = REDACTED
            else:
                out[key] = _redact_value(v, f.type if f else None)
        return out
    return value


def redact_variables(
    schema: GraphQLSchema,
    document: DocumentNode | None,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Variables as they may be logged: identifier values replaced by ``[redacted]``.

    Without a parsed document nothing is known about the variables, so every value is redacted.
    """
    if not variables:
        return {}
    plan = _variable_plan(schema, document, operation_name) if document is not None else None
    if plan is None:
        return {k: REDACTED for k in variables}
    found, declared = plan
    out: dict[str, Any] = {}
    for name, value in variables.items():
        if name in found or name not in declared:
            out[name] = REDACTED
        else:
            out[name] = _redact_value(value, declared[name])
    return out


@lru_cache(maxsize=512)
def _variable_plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> tuple[frozenset[str], dict[str, GraphQLInputType | None]] | None:
    """Per (document, operation): which variables feed identifier fields, and every variable's type.

    Cached: documents come from the parser cache, so the walk runs once per distinct query.
    """
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if operation_name is None or (o.name and o.name.value == operation_name)), None)
    if op is None:
        return None
    type_info = TypeInfo(schema)
    finder = _IdentifierVariables(type_info)
    visit(op, TypeInfoVisitor(type_info, finder))
    declared: dict[str, GraphQLInputType | None] = {}
    for d in op.variable_definitions or ():
        declared[d.variable.name.value] = type_from_ast(schema, d.type)  # type: ignore[assignment]
    return frozenset(finder.found), declared


def main(argv: list[str] | None = None) -> int:
    """``python -m sybilgraph.api.audit verify PATH [--head HASH]``"""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "verify":
        print("usage: python -m sybilgraph.api.audit verify PATH [--head HASH]", file=sys.stderr)
        return 2
    head = args[args.index("--head") + 1] if "--head" in args else None
    report = verify_chain(Path(args[1]), expected_head=head)
    print(json.dumps({"ok": report.ok, "records": report.records, "head": report.head,
                      "line": report.line, "error": report.error}))
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
