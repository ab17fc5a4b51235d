"""The audit log: one keyed, hash-chained JSON line per GraphQL operation, allowed, denied or failed.

Investigators look at people's accounts, so who looked at what, when, from where, and what came
of it must be kept where it cannot be quietly edited. Each record carries the hash of the record
before it (``prev``) and its own HMAC-SHA256 over its canonical JSON (``hash``, keyed with the
audit key from the settings): changing, removing or reordering a record breaks the chain at that
line, and without the key nobody can compute a valid replacement. The head (sequence number and
hash) is checkpointed outside the file, in Neo4j (``AuditCheckpoint``), so even a rewrite with
the key, or records cut off the end, no longer matches the checkpoint (``sybilgraph audit
verify``). This is a keyed hash chain with an external anchor, as in Schneier and Kelsey,
"Secure audit logs to support computer forensics" (ACM TISSEC, 1999), without their key
evolution: the key stays the server's.

A record is bounded whatever the caller sends (names truncated with a hash of the full text,
lists cut with their full count), and text that is not valid Unicode (a lone UTF-16 surrogate)
is escaped, so no input can make a record unwritable. A torn last line (a crash or a full disk
during a write) is found when the log is opened, moved aside to ``<log>.torn-<time>`` and the
chain continues with a ``repaired`` record that names it.

Appends take an exclusive ``flock`` and re-read the tail when another process wrote since, so
several server processes share one chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "AUDIT_VERSION",
    "GENESIS",
    "MAX_RECORD_BYTES",
    "AuditCorrupt",
    "AuditHead",
    "AuditLog",
    "ChainReport",
    "bounded_text",
    "canonical_json",
    "clean_text",
    "record_hash",
    "utc_now",
    "verify_chain",
]

GENESIS = "0" * 64
AUDIT_VERSION = 2
MAX_RECORD_BYTES = 64 * 1024  # a record never exceeds this (accounts lists shrink first, then variables)
_TAIL_WINDOW = 4 * MAX_RECORD_BYTES  # how far back open() looks for the last whole record


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clean_text(s: str) -> str:
    """``s`` as valid Unicode: lone surrogates (which UTF-8 cannot encode) become ``\\udXXX`` text."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def bounded_text(s: str, limit: int) -> str:
    """``s`` cleaned, and cut to ``limit`` characters plus a hash of the whole when longer."""
    s = clean_text(s)
    if len(s) <= limit:
        return s
    digest = hashlib.sha256(s.encode("utf-8")).hexdigest()[:16]
    return f"{s[:limit]}…[{len(s)} chars, sha256 {digest}]"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def record_hash(record: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 (with the audit key) over the canonical JSON of the record without ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


class AuditCorrupt(OSError):
    """The log's tail is damaged beyond what a torn write explains."""


@dataclass(frozen=True)
class AuditHead:
    seq: int
    hash: str


def _fit(record: dict[str, Any], limit: int) -> dict[str, Any]:
    """Shrink a record that would exceed ``limit`` bytes: variables become their digest, the
    accounts and operators lists are halved (their full lengths kept in ``truncated``), and as a
    last resort any other long value is cut or replaced by its digest."""
    if len(canonical_json(record)) <= limit:
        return record
    record = dict(record)
    if record.get("variables"):
        record["variables"] = {"[omitted]": _digest(record["variables"])}
    for name, value in list(record.items()):
        if name in ("seq", "prev", "v", "accounts", "operators"):
            continue
        if isinstance(value, str) and len(value) > 256:
            record[name] = bounded_text(value, 256)
        elif isinstance(value, (dict, list)) and len(canonical_json({"v": value})) > 1024:
            record[name] = {"[omitted]": _digest(value)}
    for name in ("accounts", "operators"):
        items = record.get(name)
        if not isinstance(items, list):
            continue
        full = len(items)
        while items and len(canonical_json(record)) > limit:
            items = items[: len(items) // 2]
            record[name] = items
        if len(items) < full:
            record["truncated"] = {**record.get("truncated", {}), name: full}
    return record


def _digest(value: Any) -> str:
    return "sha256 " + hashlib.sha256(canonical_json({"v": value})).hexdigest()


class AuditLog:
    """Append-only, keyed, hash-chained JSONL. Thread-safe, and safe across processes (flock)."""

    def __init__(self, path: Path, key: bytes, fsync: bool = False, max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        self.path = path
        self.key = key
        self.fsync = fsync
        self.max_record_bytes = max_record_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._known_size = -1
        self._prev = GENESIS
        self._seq = 0
        self.head = AuditHead(0, GENESIS)  # the last record this process wrote or read

    # -- opening and the tail -------------------------------------------------------------------
    def open(self) -> None:
        """Open the file and repair a torn tail now (appends would do it on first use)."""
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._sync_tail(fd, force=True)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _sync_tail(self, fd: int, force: bool = False) -> None:
        """Under the lock: learn the head from the file when another process wrote (or on open);
        a torn tail is moved aside and the chain continued with a record saying so."""
        size = os.fstat(fd).st_size
        if size == self._known_size and not force:
            return
        good_end, last = _last_record(fd, size)
        if good_end < size:
            self._repair(fd, good_end, size, last)
            return
        self._known_size = size
        self._prev, self._seq = (str(last["hash"]), int(last["seq"])) if last else (GENESIS, 0)
        self.head = AuditHead(self._seq, self._prev)

    def _repair(self, fd: int, good_end: int, size: int, last: dict[str, Any] | None) -> None:
        torn = os.pread(fd, size - good_end, good_end)
        aside = self.path.with_name(f"{self.path.name}.torn-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}")
        with open(aside, "xb") as f:
            f.write(torn)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(aside, 0o600)
        os.ftruncate(fd, good_end)
        os.fsync(fd)
        self._known_size = good_end
        self._prev, self._seq = (str(last["hash"]), int(last["seq"])) if last else (GENESIS, 0)
        self._write(fd, {
            "v": AUDIT_VERSION, "event": "repaired", "ts": utc_now(),
            "torn_bytes": len(torn), "torn_sha256": hashlib.sha256(torn).hexdigest(), "torn_kept_at": aside.name,
        })

    # -- appending ------------------------------------------------------------------------------
    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Chain and write one record; returns it as written (with seq, prev, hash)."""
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._sync_tail(fd)
                return self._write(fd, {"v": AUDIT_VERSION, **record})
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _write(self, fd: int, record: dict[str, Any]) -> dict[str, Any]:
        full = {**record, "seq": self._seq + 1, "prev": self._prev}
        try:
            body = canonical_json(full)
        except UnicodeEncodeError:  # a lone surrogate somewhere: escape it (rare, so not looked for first)
            full = _clean(full)
            body = canonical_json(full)
        if len(body) > self.max_record_bytes - 100:
            full = _fit(full, self.max_record_bytes - 100)
            body = canonical_json(full)
        full["hash"] = hmac.new(self.key, body, hashlib.sha256).hexdigest()
        # The line is the canonical body with the hash appended: verification re-canonicalises
        # the record without ``hash``, so one serialization serves both.
        line = body[:-1] + b',"hash":"' + full["hash"].encode() + b'"}\n'
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
        if self.fsync:
            os.fsync(fd)
        self._known_size = os.fstat(fd).st_size if self._known_size < 0 else self._known_size + len(line)
        self._prev, self._seq = full["hash"], full["seq"]
        self.head = AuditHead(self._seq, self._prev)
        return full


def _last_record(fd: int, size: int) -> tuple[int, dict[str, Any] | None]:
    """(end offset of the last whole record, that record) looking back from ``size``.

    Whole means newline-terminated JSON with a hash and a sequence number; anything after it is
    torn. An empty file gives (0, None); so does a file with no whole record in its tail window.
    """
    if size == 0:
        return 0, None
    start = max(0, size - _TAIL_WINDOW)
    data = os.pread(fd, size - start, start)
    end = len(data)
    # Whatever follows the last newline is a torn write.
    cut = data.rfind(b"\n", 0, end)
    while cut >= 0:
        begin = data.rfind(b"\n", 0, cut) + 1
        if begin == 0 and start > 0:
            break  # the line started before the window: no whole record found in it
        try:
            record = json.loads(data[begin:cut])
        except ValueError:
            record = None
        if isinstance(record, dict) and "hash" in record and isinstance(record.get("seq"), int):
            return start + cut + 1, record
        cut = begin - 1
    if start > 0:
        raise AuditCorrupt(f"no whole audit record in the last {_TAIL_WINDOW} bytes of the log; "
                           "repair it by hand (sybilgraph audit verify shows the first bad line)")
    return 0, None


# -- verification -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    head: str  # hash of the last good record
    line: int | None = None  # first bad line (1-based)
    error: str | None = None
    checkpoint_seq: int | None = None  # the checkpoint compared against, if any

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "head": self.head, "line": self.line,
                "error": self.error, "checkpoint_seq": self.checkpoint_seq}


def verify_chain(
    path: Path, key: bytes, *, checkpoint: AuditHead | None = None, expected_head: str | None = None
) -> ChainReport:
    """Walk the file; the first line whose HMAC, link or sequence is wrong ends the walk.

    ``checkpoint`` (from Neo4j) must match the record with its sequence number, and the file must
    reach it; ``expected_head`` (a hash kept elsewhere) must be the last record's.
    """
    prev, seq, n = GENESIS, 0, 0
    cp = checkpoint.seq if checkpoint else None
    if not path.exists():
        missing = checkpoint is not None and checkpoint.seq > 0 or expected_head not in (None, GENESIS)
        return ChainReport(not missing, 0, GENESIS, None, "the audit log does not exist" if missing else None, cp)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                return ChainReport(False, n, prev, lineno, "not a JSON record", cp)
            if not isinstance(record, dict) or "hash" not in record:
                return ChainReport(False, n, prev, lineno, "record has no hash", cp)
            if record.get("v") != AUDIT_VERSION:
                return ChainReport(False, n, prev, lineno, f"record version {record.get('v')!r} is not {AUDIT_VERSION} (unkeyed)", cp)
            if record.get("prev") != prev:
                return ChainReport(False, n, prev, lineno, "record does not link to the one before it", cp)
            if record.get("seq") != seq + 1:
                return ChainReport(False, n, prev, lineno, f"sequence number {record.get('seq')} where {seq + 1} was expected", cp)
            if not hmac.compare_digest(record_hash(record, key), str(record["hash"])):
                return ChainReport(False, n, prev, lineno, "record content does not match its keyed hash", cp)
            if checkpoint is not None and record["seq"] == checkpoint.seq and record["hash"] != checkpoint.hash:
                return ChainReport(False, n, prev, lineno, "record differs from the checkpoint kept in Neo4j (log rewritten)", cp)
            prev, seq, n = record["hash"], seq + 1, n + 1
    if checkpoint is not None and seq < checkpoint.seq:
        return ChainReport(False, n, prev, None,
                           f"the log ends at record {seq}, before the checkpointed record {checkpoint.seq} (records removed)", cp)
    if expected_head is not None and prev != expected_head:
        return ChainReport(False, n, prev, None, "the chain does not end at the expected head (records removed from the end?)", cp)
    return ChainReport(True, n, prev, None, None, cp)
