"""Vectorised validation and normalisation of one batch of a contract table.

Input: a record batch holding (some of) the contract columns of one table as read from a file,
in whatever Arrow types the reader produced (text for CSV, native types for Parquet, a mix for
JSON Lines).  Output: a :class:`CheckedBatch`: every row normalised to
``NORMALIZED_SCHEMAS[table]`` plus, for the rows that break the contract, the column and the
reason (the first failing check in column order; the referential check on ``account_id``
comes after the per-column checks).

Everything runs as ``pyarrow.compute`` kernels over whole columns.  Python only sees the
unique values of the rare cases (IPv6 and junk IPs, timestamps Arrow's parser rejects,
card-number candidates), never one call per row.

Reasons name the column and never quote the value, so they are safe to log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..contract import ACCOUNT_STATUSES, TABLES, Column, ColumnType, Table
from .luhn import pan_mask
from .netaddr import normalize_cidr_array, normalize_ip_array

__all__ = [
    "NORMALIZED_SCHEMAS",
    "TIMESTAMP_TYPE",
    "ACCOUNT_STATUSES",
    "BOOL_TRUE",
    "BOOL_FALSE",
    "MAX_ID_LENGTH",
    "PAN_REASON",
    "AccountSet",
    "CheckedBatch",
    "subnet_column",
    "pan_checked_columns",
    "unsupported_type_reason",
    "validate_batch",
    "parse_timestamp_text",
]

log = logging.getLogger("sybilgraph.ingest")

TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")
MAX_ID_LENGTH = 128
BOOL_TRUE = ("true", "1", "yes")
BOOL_FALSE = ("false", "0", "no")

_INT64_MAX = 2**63 - 1
# Names the column, never the digits: reasons are logged and counted.
PAN_REASON = "{column} holds a raw card number (a Luhn-valid run of 13-19 digits); rejected, not stored"
_NULL_STR = pa.scalar(None, pa.string())


def subnet_column(ip_column: str) -> str:
    """Name of the column added after an IP column: ``ip`` -> ``subnet``, ``signup_ip`` -> ``signup_subnet``."""
    return ip_column[: -len("ip")] + "subnet"


def _arrow_type(col: Column) -> pa.DataType:
    if col.type is ColumnType.TIMESTAMP:
        return TIMESTAMP_TYPE
    if col.type is ColumnType.INT_NONNEG:
        return pa.int64()
    if col.type is ColumnType.BOOL:
        return pa.bool_()
    return pa.string()


def _normalized_schema(table: Table) -> pa.Schema:
    fields: list[pa.Field] = []
    for col in table.columns:
        fields.append(pa.field(col.name, _arrow_type(col)))
        if col.type is ColumnType.IP:
            fields.append(pa.field(subnet_column(col.name), pa.string()))
    return pa.schema(fields)


NORMALIZED_SCHEMAS: dict[str, pa.Schema] = {name: _normalized_schema(t) for name, t in TABLES.items()}


# Fixed-format hash columns (prompt template LSH, JA3/JA4 client fingerprint): hex digests
# hold long all-decimal stretches (and then a Luhn-valid one) often enough that checking them
# would reject legitimate rows, and no person types into them.
_PAN_EXEMPT = frozenset({"prompt_fingerprint", "tls_fingerprint"})


def pan_checked_columns(table: Table) -> tuple[str, ...]:
    """Columns that must not hold a raw card number anywhere in their value (luhn.contains_pan).

    The contract's instrument column (``payment_methods.instrument_id``), and every free-text
    column, because a card number pasted into the wrong field is still a card number:
    ``bin``, ``last4``, ``email_domain``, ``user_agent``, ``model``, ``category``,
    ``operator_label``, ``organisation``, ``source``, organisation ``name`` and ``domains``,
    network ``owner``, truth ``operator``. Such a row is rejected, never stored.  Identifier
    columns (``account_id``, ``device_id``, ``api_key_id``, ``session_id``, ...) are not
    checked: numeric ids of 13-19 digits are legitimate and one in ten passes the Luhn check.
    """
    return tuple(
        c.name
        for c in table.columns
        if c.type is ColumnType.INSTRUMENT or (c.type is ColumnType.STRING and c.name not in _PAN_EXEMPT)
    )


# --------------------------------------------------------------------------- column types


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def unsupported_type_reason(col: Column, t: pa.DataType) -> str | None:
    """Why a file column of Arrow type ``t`` cannot hold contract column ``col``; None if it can."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t) or _is_text(t) or _is_binary(t):
        return None
    kind = col.type
    if kind is ColumnType.TIMESTAMP:
        if pa.types.is_timestamp(t) or pa.types.is_integer(t):
            return None
        expected = "a timestamp type, int64 epoch milliseconds or ISO-8601 text with a zone"
    elif kind is ColumnType.INT_NONNEG:
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            return None
        expected = "an integer"
    elif kind is ColumnType.BOOL:
        if pa.types.is_boolean(t) or pa.types.is_integer(t):
            return None
        expected = "a boolean"
    else:
        if pa.types.is_integer(t):
            return None
        expected = "text"
    return f"column '{col.name}' has type {t}; expected {expected}"


# --------------------------------------------------------------------------- helpers


def _no_nulls(mask: pa.Array) -> pa.BooleanArray:
    return pc.fill_null(mask, False) if mask.null_count else mask


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def _to_text(arr: pa.Array) -> pa.Array:
    """Any reader type -> stripped string array with empty strings as null."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if not pa.types.is_string(t):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    empty = pc.equal(pc.binary_length(arr), 0)
    if _any(empty):
        arr = pc.if_else(empty, _NULL_STR, arr)
    return arr


@dataclass
class _Col:
    values: pa.Array
    missing: pa.BooleanArray
    checks: list[tuple[pa.BooleanArray, str]] = field(default_factory=list)
    added: pa.Array | None = None  # the subnet column after an IP column

    def check(self, mask: pa.Array, reason: str) -> None:
        mask = _no_nulls(mask)
        if _any(mask):
            self.checks.append((mask, reason))


def _text_col(arr: pa.Array) -> _Col:
    values = _to_text(arr)
    return _Col(values, pc.is_null(values))


# --------------------------------------------------------------------------- per type


def _norm_id(name: str, arr: pa.Array) -> _Col:
    c = _text_col(arr)
    values = c.values
    # ASCII-only batches (the usual case) take the ~10x cheaper ASCII kernel; same verdicts.
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        printable = pc.ascii_is_printable(values)
    else:
        printable = pc.utf8_is_printable(values)
    c.check(pc.invert(printable), f"{name}: identifier contains non-printable characters")
    # No value of more than MAX_ID_LENGTH bytes -> none of more than MAX_ID_LENGTH characters.
    if _any(pc.greater(pc.binary_length(values), MAX_ID_LENGTH)):
        c.check(
            pc.greater(pc.utf8_length(values), MAX_ID_LENGTH),
            f"{name}: identifier longer than {MAX_ID_LENGTH} characters",
        )
    return c


def _norm_country(name: str, arr: pa.Array) -> _Col:
    c = _text_col(arr)
    c.values = pc.utf8_upper(c.values)
    c.check(
        pc.invert(pc.match_substring_regex(c.values, r"^[A-Z]{2}$")),
        f"{name}: not an ISO-3166-1 alpha-2 country code (2 letters)",
    )
    return c


def _norm_ip(name: str, arr: pa.Array) -> _Col:
    c = _text_col(arr)
    canonical, subnet, bad = normalize_ip_array(c.values)
    c.check(bad, f"{name}: not an IPv4 or IPv6 address")
    c.values = canonical
    c.added = subnet
    return c


def _norm_cidr(name: str, arr: pa.Array) -> _Col:
    c = _text_col(arr)
    canonical, bad = normalize_cidr_array(c.values)
    c.check(bad, f"{name}: not an IPv4 or IPv6 network (CIDR like 203.0.113.0/24)")
    c.values = canonical
    return c


_INT_TEXT = r"^[0-9]{1,18}(\.0*)?$"
_NEG_TEXT = r"^-[0-9]+(\.[0-9]*)?$"


def _norm_int(name: str, arr: pa.Array) -> _Col:
    neg_reason = f"{name}: negative value (must be an integer >= 0)"
    bad_reason = f"{name}: not an integer"
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_null(t):
        return _Col(pa.nulls(len(arr), pa.int64()), pc.is_null(arr))
    if pa.types.is_integer(t):
        c = _Col(arr, pc.is_null(arr))
        if pa.types.is_unsigned_integer(t):
            if t.bit_width == 64:
                big = _no_nulls(pc.greater(arr, pa.scalar(_INT64_MAX, t)))
                c.check(big, f"{name}: integer out of range")
                if _any(big):
                    arr = pc.if_else(big, pa.scalar(0, t), arr)
        else:
            c.check(pc.less(arr, 0), neg_reason)
        c.values = pc.cast(arr, pa.int64())
        return c
    if pa.types.is_floating(t):
        c = _Col(arr, pc.is_null(arr))
        finite = pc.is_finite(arr)
        c.check(pc.and_(finite, pc.less(arr, 0)), neg_reason)
        ok = pc.and_(pc.and_(finite, pc.equal(pc.floor(arr), arr)), pc.less(arr, float(2**63)))
        c.check(pc.and_(pc.invert(ok), pc.invert(pc.and_(finite, pc.less(arr, 0)))), bad_reason)
        c.values = pc.cast(pc.if_else(ok, arr, 0.0), pa.int64())
        return c
    c = _text_col(arr)
    text = c.values
    ok = _no_nulls(pc.match_substring_regex(text, _INT_TEXT))
    notok = pc.and_not(pc.is_valid(text), ok)
    if _any(notok):
        neg = _no_nulls(pc.match_substring_regex(text, _NEG_TEXT))
        c.check(neg, neg_reason)
        c.check(pc.and_not(notok, neg), bad_reason)
        text = pc.if_else(ok, text, _NULL_STR)
    if _any(pc.match_substring(text, ".")):
        text = pc.replace_substring_regex(text, r"\.0*$", "")
    c.values = pc.cast(text, pa.int64())
    return c


def _norm_bool(name: str, arr: pa.Array) -> _Col:
    reason = f"{name}: not a boolean (true/false/1/0/yes/no)"
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_boolean(t):
        return _Col(arr, pc.is_null(arr))
    if pa.types.is_null(t):
        return _Col(pa.nulls(len(arr), pa.bool_()), pc.is_null(arr))
    if pa.types.is_integer(t):
        c = _Col(arr, pc.is_null(arr))
        c.check(pc.and_(arr.is_valid(), pc.invert(pc.is_in(arr, value_set=pa.array([0, 1], t)))), reason)
        c.values = pc.equal(arr, 1)
        return c
    c = _text_col(arr)
    low = pc.utf8_lower(c.values)
    is_true = pc.is_in(low, value_set=pa.array(BOOL_TRUE))
    is_false = pc.is_in(low, value_set=pa.array(BOOL_FALSE))
    c.check(pc.and_(c.values.is_valid(), pc.invert(pc.or_(is_true, is_false))), reason)
    c.values = pc.if_else(pc.is_null(c.values), pa.scalar(None, pa.bool_()), is_true)
    return c


# Timestamps --------------------------------------------------------------------------------
# Arrow's ISO-8601 parser decides the fast path.  Everything else is gated by a regex that
# mirrors the grammar Arrow accepts (date, 'T' or space, hh[:mm[:ss[.f{1,9}]]], zone Z/±hh/
# ±hhmm/±hh:mm), and the rare values Arrow still rejects are parsed by _parse_ts_python, which
# applies the same calendar rules.  Sub-millisecond digits are dropped.

_TS_SHAPE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
)
_TS_ZONELESS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?)?$"
_TS_PY = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)",
    re.ASCII,
)


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _parse_ts_python(text: str) -> int | None:
    """Epoch milliseconds of one ISO-8601 text with a zone, by the rules of the Arrow path."""
    m = _TS_PY.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h = int(m[1]), int(m[2]), int(m[3]), int(m[4])
    mi = int(m[5]) if m[5] else 0
    s = int(m[6]) if m[6] else 0
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h <= 23 and mi <= 59 and s <= 59):
        return None
    frac_ms = int((m[7] or "").ljust(3, "0")[:3])
    offset_min = 0
    if not m[8]:
        oh = int(m[10])
        om = int(m[11]) if m[11] else 0
        if oh > 23 or om > 59:
            return None
        offset_min = (oh * 60 + om) * (1 if m[9] == "+" else -1)
    secs = ((_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s - offset_min * 60
    return secs * 1000 + frac_ms


def parse_timestamp_text(text: pa.Array) -> pa.Array:
    """Stripped string array -> timestamp[ms, UTC]; null where null or not a zoned ISO-8601 text."""
    try:
        return pc.cast(text, TIMESTAMP_TYPE)
    except pa.ArrowInvalid:
        pass
    shaped = _no_nulls(pc.match_substring_regex(text, _TS_SHAPE))
    gated = pc.if_else(shaped, text, _NULL_STR)
    if _any(pc.match_substring_regex(gated, r"\.[0-9]{4}")):
        gated = pc.replace_substring_regex(gated, r"(\.[0-9]{3})[0-9]+", r"\1")
    try:
        return pc.cast(gated, TIMESTAMP_TYPE)
    except pa.ArrowInvalid:
        pass
    enc = pc.dictionary_encode(gated)
    parsed = [_parse_ts_python(v) for v in enc.dictionary.to_pylist()]
    millis = pc.take(pa.array(parsed, pa.int64()), enc.indices)
    return pc.cast(millis, TIMESTAMP_TYPE)


def _norm_timestamp(name: str, arr: pa.Array) -> _Col:
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_null(t):
        return _Col(pa.nulls(len(arr), TIMESTAMP_TYPE), pc.is_null(arr))
    if pa.types.is_timestamp(t):
        if t.tz is None:  # a zone-less Parquet timestamp is taken as UTC
            arr = pc.cast(arr, pa.timestamp(t.unit, tz="UTC"))
        return _Col(pc.cast(arr, TIMESTAMP_TYPE, safe=False), pc.is_null(arr))
    if pa.types.is_integer(t):  # epoch milliseconds
        if t != pa.int64():
            arr = pc.cast(arr, pa.int64())
        return _Col(pc.cast(arr, TIMESTAMP_TYPE), pc.is_null(arr))
    c = _text_col(arr)
    values = parse_timestamp_text(c.values)
    failed = pc.and_(c.values.is_valid(), values.is_null())
    if _any(failed):
        zoneless = _no_nulls(pc.match_substring_regex(c.values, _TS_ZONELESS))
        c.check(pc.and_(failed, zoneless), f"{name}: timestamp has no zone (ISO-8601 with Z or ±HH:MM required)")
        c.check(pc.and_not(failed, zoneless), f"{name}: not an ISO-8601 timestamp")
    c.values = values
    return c


# --------------------------------------------------------------------------- batch


@dataclass
class CheckedBatch:
    """All rows of an input batch, normalised, and the rejected ones with their reasons."""

    table: str
    normalized: pa.RecordBatch
    bad_mask: np.ndarray | None = None  # bool per row; None = no row rejected
    rejects: list[tuple[np.ndarray, str | None, str]] = field(default_factory=list)  # (rows, column, reason)

    @property
    def num_rows(self) -> int:
        return self.normalized.num_rows

    def reject(self, mask: np.ndarray | pa.Array, column: str | None, reason: str) -> None:
        """Reject the rows of ``mask`` not already rejected (the first reason wins)."""
        if isinstance(mask, pa.Array | pa.ChunkedArray):
            mask = np.asarray(_no_nulls(mask).to_numpy(zero_copy_only=False), dtype=bool)
        if self.bad_mask is None:
            new = mask
            self.bad_mask = mask.copy()
        else:
            new = mask & ~self.bad_mask
            self.bad_mask |= new
        rows = np.flatnonzero(new)
        if len(rows):
            self.rejects.append((rows, column, reason))

    def good_positions(self) -> np.ndarray:
        """Row indices (into the input batch) of the rows not rejected."""
        if self.bad_mask is None:
            return np.arange(self.num_rows)
        return np.flatnonzero(~self.bad_mask)

    def good(self) -> pa.RecordBatch:
        if self.bad_mask is None or not self.bad_mask.any():
            return self.normalized
        return self.normalized.filter(pa.array(~self.bad_mask))

    def bad_rows(self) -> tuple[np.ndarray, list[str | None], list[str]]:
        """Rejected rows (input indices, ascending) with their column and reason."""
        if not self.rejects:
            return np.zeros(0, dtype=np.int64), [], []
        idx = np.concatenate([r for r, _, _ in self.rejects])
        cols = [c for r, c, _ in self.rejects for _ in range(len(r))]
        reasons = [why for r, _, why in self.rejects for _ in range(len(r))]
        order = np.argsort(idx, kind="stable")
        return idx[order], [cols[i] for i in order], [reasons[i] for i in order]


def _normalize_column(table: Table, col: Column, arr: pa.Array) -> _Col:
    name = col.name
    kind = col.type
    if kind is ColumnType.TIMESTAMP:
        return _norm_timestamp(name, arr)
    if kind is ColumnType.IP:
        return _norm_ip(name, arr)
    if kind is ColumnType.INT_NONNEG:
        return _norm_int(name, arr)
    if kind is ColumnType.BOOL:
        return _norm_bool(name, arr)
    if kind is ColumnType.COUNTRY:
        return _norm_country(name, arr)
    if kind is ColumnType.CIDR:
        return _norm_cidr(name, arr)
    if kind in (ColumnType.ID, ColumnType.INSTRUMENT):
        c = _norm_id(name, arr)
    else:
        c = _text_col(arr)
    if name in pan_checked_columns(table):
        pan = pan_mask(c.values)
        if _any(pan):
            # A card number is reported first, whatever else is wrong with the value.
            c.checks.insert(0, (pan, PAN_REASON.format(column=name)))
    if col.choices:
        c.values = pc.utf8_lower(c.values)
        c.check(
            pc.and_(c.values.is_valid(), pc.invert(pc.is_in(c.values, value_set=pa.array(col.choices)))),
            f"{name}: not one of {', '.join(col.choices)}",
        )
    elif table.name == "accounts" and name == "email_domain":
        c.values = pc.utf8_lower(c.values)
        has_at = _no_nulls(pc.match_substring(c.values, "@"))
        if _any(has_at):
            # The contract allows the domain only; never keep the local part of an address.
            log.warning("email_domain: %d value(s) held a full address; kept the domain only", pc.sum(has_at).as_py())
            dom = pc.replace_substring_regex(c.values, r"^.*@", "")
            c.values = pc.if_else(pc.equal(dom, ""), _NULL_STR, dom)
    return c


def _normalize_dictionary(table: Table, col: Column, arr: pa.DictionaryArray) -> _Col:
    """A dictionary-encoded column (Parquet's dictionary pages, read as such): every check is a
    property of one value, so each distinct value is checked once and the verdicts are taken back
    to the rows by the indices."""
    base = _normalize_column(table, col, arr.dictionary)
    indices = arr.indices

    def rows(values: pa.Array) -> pa.Array:
        return values.take(indices)

    missing = pc.or_(pc.is_null(indices), _no_nulls(rows(base.missing)))
    out = _Col(rows(base.values), _no_nulls(missing))
    for mask, reason in base.checks:
        out.check(rows(mask), reason)
    if base.added is not None:
        out.added = rows(base.added)
    return out


class AccountSet:
    """The account ids of a bundle, for the referential check of the link tables.

    ``pc.is_in`` rebuilds its hash table from the value set on every call: with a million
    accounts that is ~1 us per row of a 200k-row batch.  This set is built once; each batch
    probes it with its unique ids only.
    """

    def __init__(self, ids: pa.Array | pa.ChunkedArray) -> None:
        if ids.type != pa.string():
            ids = pc.cast(ids, pa.string())
        self._ids = frozenset(v for v in ids.to_pylist() if v is not None)

    def __len__(self) -> int:
        return len(self._ids)

    def contains(self, values: pa.Array) -> pa.BooleanArray:
        """Per value: is it a known account id (null stays null)."""
        enc = pc.dictionary_encode(values)
        known = self._ids
        member = pa.array([v in known for v in enc.dictionary.to_pylist()], pa.bool_())
        return pc.take(member, enc.indices)


def validate_batch(
    table: str, raw: pa.RecordBatch, *, known_accounts: pa.Array | AccountSet | None = None
) -> CheckedBatch:
    """Normalise and check one batch of ``table``; columns of ``raw`` not in the contract are ignored.

    ``known_accounts`` (string array, or an :class:`AccountSet` when many batches are checked):
    when given and the table references accounts, rows whose ``account_id`` is not in it are
    rejected.
    """
    spec = TABLES[table]
    schema = NORMALIZED_SCHEMAS[table]
    n = raw.num_rows
    arrays: list[pa.Array] = []
    checked_cols: list[tuple[Column, _Col]] = []
    present = set(raw.schema.names)
    for col in spec.columns:
        if col.name in present:
            arr = raw.column(col.name)
            if pa.types.is_dictionary(arr.type) and len(arr.dictionary) < len(arr):
                c = _normalize_dictionary(spec, col, arr)
            else:
                c = _normalize_column(spec, col, arr)
        else:
            c = _Col(pa.nulls(n, _arrow_type(col)), pa.array(np.ones(n, dtype=bool)))
            if col.type is ColumnType.IP:
                c.added = pa.nulls(n, pa.string())
        arrays.append(c.values)
        if col.type is ColumnType.IP:
            arrays.append(c.added if c.added is not None else pa.nulls(n, pa.string()))
        checked_cols.append((col, c))

    out = CheckedBatch(table, pa.RecordBatch.from_arrays(arrays, schema=schema))
    for col, c in checked_cols:
        if col.required and _any(c.missing):
            out.reject(c.missing, col.name, f"{col.name}: missing required value")
        for mask, reason in c.checks:
            out.reject(mask, col.name, reason)

    if known_accounts is not None and spec.references_accounts and n:
        ids = out.normalized.column("account_id")
        if isinstance(known_accounts, AccountSet):
            known = known_accounts.contains(ids)
        else:
            known = pc.is_in(ids, value_set=known_accounts)
        unknown = pc.and_(ids.is_valid(), pc.invert(known))
        if _any(unknown):
            out.reject(unknown, "account_id", "account_id not in accounts")
    return out
