"""Streaming, validating readers for the tables of a bundle directory (docs/data-contract.md).

``read_table`` yields :class:`ValidatedBatch` objects: the good rows normalised to
``NORMALIZED_SCHEMAS[table]`` and the rejected rows as ``QUARANTINE_SCHEMA`` rows, one batch of
at most ``batch_rows`` input rows at a time, file by file.

Formats, by extension: ``.csv``, ``.csv.gz`` (pyarrow's streaming CSV reader, every column
read as text), ``.parquet`` (``ParquetFile.iter_batches``), ``.jsonl``, ``.jsonl.gz`` (chunks of
whole lines parsed by ``pyarrow.json``; a chunk Arrow cannot parse is parsed line by line so a
single bad line is quarantined, not fatal).  A table may be one file or a directory of part
files (sorted by name; names starting with ``.`` or ``_`` are skipped, e.g. ``_SUCCESS``).

Row numbers in the quarantine are exact per file: CSV data rows (header not counted, blank
lines not counted, malformed rows counted), JSON Lines line numbers, Parquet row index + 1.

Columns: a file must hold every required column of its table (CSV header, Parquet schema; for
JSON Lines, the keys seen in the first MiB); columns outside the contract are dropped with a
warning on the ``sybilgraph.ingest`` logger.  ``known_accounts`` is turned into a set once per
call (see :class:`~sybilgraph.ingest.validate.AccountSet`), so it costs per unique id of a
batch, not per row.

Failure of a whole file (unreadable format, missing required column, a column of an
impossible type) raises :class:`~sybilgraph.errors.TableError`.  The header / schema of every
file of the table is checked when ``read_table`` is called, before anything is yielded; only
damage found mid-file (a truncated gzip stream, invalid UTF-8 in a CSV) can raise after some
batches of the table were yielded, so a caller that wants all-or-nothing per table should
stage the batches and discard them on ``TableError``.

Nothing here touches the database.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ..contract import FILE_EXTENSIONS, TABLES, ColumnType, Table
from ..errors import BundleError, TableError
from .luhn import redact_pans
from .quarantine import QUARANTINE_SCHEMA, quarantine_table, raw_line_json, record_json
from .validate import NORMALIZED_SCHEMAS, AccountSet, CheckedBatch, unsupported_type_reason, validate_batch

__all__ = [
    "NORMALIZED_SCHEMAS",
    "QUARANTINE_SCHEMA",
    "ValidatedBatch",
    "find_table_files",
    "unknown_entries",
    "read_table",
    "bench_read",
    "write_synthetic_interactions",
]

log = logging.getLogger("sybilgraph.ingest")

DUPLICATE_ACCOUNT_REASON = "duplicate account_id; a later row of this bundle wins"
# Tables whose key must be unique within a bundle: the last valid row of a key wins.
_UNIQUE_KEY = {"accounts": "account_id"}

_MIB = 1 << 20
_MIN_BLOCK = _MIB
_MAX_BLOCK = 256 * _MIB
# A compressed file may expand to at most this many times its size, once past the floor: real
# tables compress 5-20x; a gzip bomb expands ~1000x and would fill the disk with staged rows.
_MAX_EXPANSION = 200
_EXPANSION_FLOOR = 1024 * _MIB
_READ_ERRORS = (pa.ArrowException, OSError, EOFError, zlib.error, UnicodeDecodeError)


@dataclass(frozen=True)
class ValidatedBatch:
    good: pa.RecordBatch  # NORMALIZED_SCHEMAS[table]
    bad: pa.Table  # QUARANTINE_SCHEMA rows
    source: Path  # the file this batch came from
    rows_read: int  # input rows this batch covers (good + bad)


# --------------------------------------------------------------------------- discovery


def _split_name(name: str) -> tuple[str, str] | None:
    """``accounts.csv.gz`` -> ``("accounts", ".csv.gz")``; None without a bundle extension."""
    for ext in FILE_EXTENSIONS:  # longest first
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], ext
    return None


def _format_of(path: Path) -> str:
    split = _split_name(path.name)
    if split is None:
        raise ValueError(f"not a bundle file extension: {path.name}")
    return split[1]


def _check_bundle(bundle_dir: Path) -> Path:
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle directory not found: {bundle_dir}")
    return bundle_dir


def find_table_files(bundle_dir: Path, table: str) -> list[Path]:
    """The files of ``table`` in the bundle: ``[]`` when absent, one file, or the sorted parts of
    a ``table/`` directory.  A table given twice (two files, or a file and a directory) is a
    :class:`TableError`."""
    if table not in TABLES:
        raise ValueError(f"not a contract table: {table!r}")
    bundle_dir = _check_bundle(bundle_dir)
    files = sorted(p for ext in FILE_EXTENSIONS if (p := bundle_dir / f"{table}{ext}").is_file())
    directory = bundle_dir / table
    has_dir = directory.is_dir()
    if has_dir and files:
        names = ", ".join(p.name for p in files)
        raise TableError(
            table, str(bundle_dir), f"table given both as directory '{table}/' and as file {names}; keep one"
        )
    if len(files) > 1:
        names = ", ".join(p.name for p in files)
        raise TableError(table, str(bundle_dir), f"table given by several files ({names}); keep one")
    if not has_dir:
        return files
    parts: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and _split_name(entry.name) is not None:
            parts.append(entry)
        else:
            log.warning(
                "table '%s': ignoring %s (not a %s part file)",
                table,
                redact_pans(str(entry)),
                "/".join(FILE_EXTENSIONS),
            )
    if not parts:
        log.warning("table '%s': directory %s holds no part files", table, redact_pans(str(directory)))
    return parts


def unknown_entries(bundle_dir: Path) -> list[str]:
    """Names of the entries of the bundle directory that are not a contract table (hidden
    entries, starting with ``.``, are not listed).  To be warned about, never an error."""
    bundle_dir = _check_bundle(bundle_dir)
    unknown: list[str] = []
    for entry in sorted(bundle_dir.iterdir()):
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir():
            if name in TABLES:
                continue
        elif entry.is_file():
            split = _split_name(name)
            if split is not None and split[0] in TABLES:
                continue
        unknown.append(name)
    return unknown


# --------------------------------------------------------------------------- raw batches


@dataclass
class _Raw:
    """A batch as read from a file, before validation."""

    batch: pa.RecordBatch
    rows: int | np.ndarray  # first row number (contiguous rows) or the row number of every row
    # Rows that could not be made into values: (row, column, reason, record JSON text).
    malformed: list[tuple[int, str | None, str, str]] = field(default_factory=list)

    def row_numbers(self, idx: np.ndarray) -> np.ndarray:
        if isinstance(self.rows, int):
            return idx.astype(np.int64) + self.rows
        return self.rows[idx]

    def split(self, batch_rows: int) -> Iterator[_Raw]:
        n = self.batch.num_rows
        if n <= batch_rows:
            yield self
            return
        malformed = sorted(self.malformed, key=lambda m: m[0])
        for start in range(0, n, batch_rows):
            length = min(batch_rows, n - start)
            if isinstance(self.rows, int):
                rows: int | np.ndarray = self.rows + start
                last = self.rows + start + length - 1
            else:
                rows = self.rows[start : start + length]
                last = int(rows[-1])
            # Malformed rows travel with the slice whose rows surround them.
            cut = len(malformed) if start + length >= n else sum(1 for m in malformed if m[0] <= last)
            yield _Raw(self.batch.slice(start, length), rows, malformed[:cut])
            malformed = malformed[cut:]


def _empty_batch(columns: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in columns], names=list(columns))


def _clamp_block(batch_rows: int, bytes_per_row: float) -> int:
    return int(min(_MAX_BLOCK, max(_MIN_BLOCK, batch_rows * bytes_per_row * 1.05)))


class _Source:
    """One file of a table."""

    kind = "?"

    def __init__(self, table: Table, path: Path) -> None:
        self.table = table
        self.path = path
        self.columns: list[str] = []  # contract columns present in the file, contract order
        self.bytes_per_row = 200.0

    def fail(self, reason: str) -> TableError:
        return TableError(self.table.name, str(self.path), redact_pans(reason))

    def read_error(self, exc: BaseException) -> TableError:
        return self.fail(f"cannot be read as {self.kind}: {exc}")

    def open_input(self) -> Any:
        """The file's bytes, decompressed by extension; a compressed file is bounded (``_MAX_EXPANSION``)."""
        if not self.path.name.endswith(".gz"):
            return pa.input_stream(self.path)
        limit = max(_EXPANSION_FLOOR, _MAX_EXPANSION * self.path.stat().st_size)
        return _BoundedInput(pa.input_stream(self.path), limit, self.fail)

    def set_header(self, names: list[str]) -> None:
        spec = self.table
        contract = set(spec.column_names)
        dups = sorted({n for n in names if n in contract and names.count(n) > 1})
        if dups:
            raise self.fail(f"duplicate column '{dups[0]}'")
        missing = [c for c in spec.required_columns if c not in names]
        if len(missing) == 1:
            raise self.fail(f"missing required column '{missing[0]}'")
        if missing:
            raise self.fail("missing required columns " + ", ".join(f"'{c}'" for c in missing))
        unknown = [n for n in names if n not in contract]
        if unknown:
            log.warning(
                "table '%s' (%s): ignoring unknown column(s) %s",
                spec.name,
                self.path,
                redact_pans(", ".join(repr(u) for u in unknown)),
            )
        self.columns = [c for c in spec.column_names if c in names]

    def check(self) -> None:
        raise NotImplementedError

    def _batches(self, batch_rows: int) -> Iterator[_Raw]:
        raise NotImplementedError

    def batches(self, batch_rows: int) -> Iterator[_Raw]:
        """The raw batches of the file; read errors become a TableError naming the file."""
        it = self._batches(batch_rows)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            except _READ_ERRORS as exc:
                raise self.read_error(exc) from None
            yield from raw.split(batch_rows)


class _BoundedInput(io.RawIOBase):
    """A decompressing stream that refuses to expand beyond ``limit`` bytes (a gzip bomb)."""

    def __init__(self, stream: Any, limit: int, fail: Any) -> None:
        super().__init__()
        self._stream = stream
        self._limit = limit
        self._fail = fail
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise self._fail(f"decompresses to more than {self._limit / _MIB:,.0f} MiB, over {_MAX_EXPANSION} times "
                             "its compressed size (a decompression bomb?); refused")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


class _ParquetSource(_Source):
    kind = "Parquet"

    def check(self) -> None:
        try:
            with pq.ParquetFile(self.path) as pf:
                schema = pf.schema_arrow
        except _READ_ERRORS as exc:
            raise self.read_error(exc) from None
        self.set_header(list(schema.names))
        for name in self.columns:
            reason = unsupported_type_reason(self.table.column(name), schema.field(name).type)
            if reason:
                raise self.fail(reason)

    def _batches(self, batch_rows: int) -> Iterator[_Raw]:
        # Text columns as dictionaries where the file stores them so: each distinct value is then
        # validated once per batch, not once per row (validate._normalize_dictionary).
        with pq.ParquetFile(self.path) as probe:
            text = [n for n in self.columns if pa.types.is_string(probe.schema_arrow.field(n).type)]
        with pq.ParquetFile(self.path, read_dictionary=text) as pf:
            row = 1
            for batch in pf.iter_batches(batch_size=batch_rows, columns=self.columns, use_threads=True):
                yield _Raw(batch, row)
                row += batch.num_rows


class _CsvSource(_Source):
    kind = "CSV"

    def _open(self, block_size: int, handler: Any, columns: list[str] | None) -> pacsv.CSVStreamingReader:
        convert = pacsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False)
        if columns is not None:
            convert = pacsv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
        return pacsv.open_csv(
            self.open_input(),
            # Serial reading: the invalid-row handler then knows each malformed row's number.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
            convert_options=convert,
        )

    def check(self) -> None:
        try:
            reader = self._open(_MIB, lambda row: "skip", None)
            try:
                names = list(reader.schema.names)
                try:
                    first = reader.read_next_batch()
                    if first.num_rows:
                        self.bytes_per_row = _MIB / first.num_rows
                except StopIteration:
                    pass
            finally:
                reader.close()
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise self.fail("empty file: no header row") from None
            raise self.read_error(exc) from None
        except _READ_ERRORS as exc:
            raise self.read_error(exc) from None
        self.set_header(names)

    def _batches(self, batch_rows: int) -> Iterator[_Raw]:
        invalid: list[tuple[int, int, int, str]] = []

        def handler(row: Any) -> str:
            # Physical row numbers count the header as row 1 and skip empty lines.
            number = row.number - 1 if row.number is not None and row.number > 0 else -1
            invalid.append((number, row.expected_columns, row.actual_columns, row.text))
            return "skip"

        reader = self._open(_clamp_block(batch_rows, self.bytes_per_row), handler, self.columns)
        pending: list[tuple[int, int, int, str]] = []
        next_row = 1
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                if invalid:
                    pending.extend(invalid)
                    invalid.clear()
                    pending.sort(key=lambda t: t[0])
                raw, next_row = self._place(batch, next_row, pending)
                yield raw
            pending.extend(invalid)
            if pending:  # malformed rows after the last parsed row
                pending.sort(key=lambda t: t[0])
                yield _Raw(_empty_batch(self.columns), next_row, self._malformed(pending))
        finally:
            reader.close()

    @staticmethod
    def _malformed(taken: list[tuple[int, int, int, str]]) -> list[tuple[int, str | None, str, str]]:
        return [
            (number, None, f"malformed CSV row: expected {exp} columns, got {got}", raw_line_json(text))
            for number, exp, got, text in taken
            if text.strip()  # a line of blanks is not a row
        ]

    def _place(self, batch: pa.RecordBatch, start: int, pending: list) -> tuple[_Raw, int]:
        """Number the rows of ``batch``: the parsed rows take the numbers, from ``start`` on, not
        taken by the malformed rows among them (``pending``, sorted; consumed here)."""
        end = start + batch.num_rows
        taken: list[tuple[int, int, int, str]] = []
        while pending and pending[0][0] < end:
            taken.append(pending.pop(0))
            end += 1
        if not taken:
            return _Raw(batch, start), end
        skip = np.array([t[0] for t in taken], dtype=np.int64)
        rows = np.setdiff1d(np.arange(start, end, dtype=np.int64), skip)
        if len(rows) != batch.num_rows:  # a row number the parser did not know; keep counting
            rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
        return _Raw(batch, rows, self._malformed(taken)), end


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


class _JsonlSource(_Source):
    kind = "JSON Lines"
    _PEEK = _MIB
    _MAX_LINE = 64 * _MIB

    def __init__(self, table: Table, path: Path) -> None:
        super().__init__(table, path)
        fields = []
        for col in table.columns:
            if col.type is ColumnType.INT_NONNEG:
                typ = pa.int64()
            elif col.type is ColumnType.BOOL:
                typ = pa.bool_()
            else:  # text, and timestamps as text: their zone must be checked
                typ = pa.string()
            fields.append(pa.field(col.name, typ))
        self._schema = pa.schema(fields)

    def check(self) -> None:
        try:
            with self.open_input() as f:
                head = f.read(self._PEEK)
                eof = len(head) < self._PEEK
                if not eof and b"\n" not in head:  # make sure the peek holds a whole line
                    parts = [head]
                    size = len(head)
                    while size < self._MAX_LINE:
                        more = f.read(1 << 16)
                        if not more:
                            eof = True
                            break
                        parts.append(more)
                        size += len(more)
                        if b"\n" in more:
                            break
                    head = b"".join(parts)
        except _READ_ERRORS as exc:
            raise self.read_error(exc) from None
        lines = head.split(b"\n")
        if not eof:
            lines = lines[:-1]  # the last line of the peek may be cut
            if not lines:
                raise self.fail("cannot be read as JSON Lines: first line longer than 64 MiB")
        keys: dict[str, None] = {}
        objects = nonblank = 0
        for line in lines:
            text = line.strip()
            if not text:
                continue
            nonblank += 1
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict):
                objects += 1
                keys.update(dict.fromkeys(str(k) for k in obj))
        if nonblank and not objects:
            raise self.fail("cannot be read as JSON Lines: no line of the first MiB is a JSON object")
        if objects:
            self.set_header(list(keys))
            self.bytes_per_row = max(1.0, len(head) / max(1, len(lines)))
        # Keys may be left out of any line, so every contract column is read; an absent key is null.
        self.columns = [] if not nonblank and eof else list(self.table.column_names)

    def _batches(self, batch_rows: int) -> Iterator[_Raw]:
        if not self.columns:
            return  # empty file
        chunk_bytes = _clamp_block(batch_rows, self.bytes_per_row)
        line_no = 1
        carry = b""
        with self.open_input() as f:
            while True:
                data = f.read(chunk_bytes)
                eof = not data
                buf = carry + data if carry else data
                # An endless line must fail, not fill memory (nor copy itself over and over).
                if len(buf) - (buf.rfind(b"\n") + 1) > self._MAX_LINE:
                    long_line = line_no + buf.count(b"\n")
                    raise self.fail(f"line {long_line} is longer than {self._MAX_LINE // _MIB} MiB; "
                                    "a JSON Lines row is one line")
                if eof:
                    chunk, carry = buf, b""
                else:
                    cut = buf.rfind(b"\n")
                    if cut < 0:
                        carry = buf
                        continue
                    chunk, carry = buf[: cut + 1], buf[cut + 1 :]
                if chunk:
                    nlines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
                    yield self._parse(chunk, line_no, nlines)
                    line_no += nlines
                if eof:
                    return

    def _parse(self, chunk: bytes, first_line: int, nlines: int) -> _Raw:
        try:
            tbl = pajson.read_json(
                io.BytesIO(chunk),
                read_options=pajson.ReadOptions(use_threads=True, block_size=_MIB),
                parse_options=pajson.ParseOptions(explicit_schema=self._schema, unexpected_field_behavior="ignore"),
            )
        except pa.ArrowInvalid:
            return self._parse_python(chunk, first_line, nlines)
        tbl = tbl.select(self.columns)
        if tbl.num_rows == nlines:
            rows: int | np.ndarray = first_line
        else:  # blank lines: number the rows by their lines
            lines = chunk.split(b"\n")[:nlines]
            rows = np.array([first_line + i for i, line in enumerate(lines) if line.strip()], dtype=np.int64)
            if len(rows) != tbl.num_rows:
                return self._parse_python(chunk, first_line, nlines)
        batches = tbl.combine_chunks().to_batches()
        batch = batches[0] if batches else _empty_batch(self.columns)
        return _Raw(batch, rows)

    def _parse_python(self, chunk: bytes, first_line: int, nlines: int) -> _Raw:
        """Line by line, so that one bad line is quarantined and the others still load."""
        values: dict[str, list[str | None]] = {c: [] for c in self.columns}
        rows: list[int] = []
        malformed: list[tuple[int, str | None, str, str]] = []
        for i, line in enumerate(chunk.split(b"\n")[:nlines]):
            number = first_line + i
            text = line.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                raw = text.decode("utf-8", "replace")
                malformed.append((number, None, "malformed JSON line", raw_line_json(raw)))
                continue
            if not isinstance(obj, dict):
                raw = text.decode("utf-8", "replace")
                malformed.append((number, None, "line is not a JSON object", raw_line_json(raw)))
                continue
            nested = next((c for c in self.columns if isinstance(obj.get(c), dict | list)), None)
            if nested is not None:
                record = record_json({c: obj.get(c) for c in self.columns})
                malformed.append((number, nested, f"{nested}: nested JSON value, expected a scalar", record))
                continue
            rows.append(number)
            for c in self.columns:
                values[c].append(_json_text(obj.get(c)))
        batch = pa.RecordBatch.from_arrays(
            [pa.array(values[c], pa.string()) for c in self.columns], names=list(self.columns)
        )
        return _Raw(batch, np.array(rows, dtype=np.int64), malformed)


_SOURCES: dict[str, type[_Source]] = {
    ".parquet": _ParquetSource,
    ".csv": _CsvSource,
    ".csv.gz": _CsvSource,
    ".jsonl": _JsonlSource,
    ".jsonl.gz": _JsonlSource,
}


# --------------------------------------------------------------------------- read_table


def _known_set(known_accounts: pa.Array | pa.ChunkedArray | None) -> AccountSet | None:
    if known_accounts is None:
        return None
    if not isinstance(known_accounts, pa.Array | pa.ChunkedArray):
        known_accounts = pa.array(known_accounts, pa.string())
    return AccountSet(known_accounts)


def _checked(
    sources: list[_Source], table: str, known: AccountSet | None, batch_rows: int
) -> Iterator[tuple[_Source, _Raw, CheckedBatch]]:
    for src in sources:
        for raw in src.batches(batch_rows):
            try:
                checked = validate_batch(table, raw.batch, known_accounts=known)
            except pa.ArrowException as exc:
                raise src.fail(f"cannot convert the values of the file: {exc}") from None
            yield src, raw, checked


def _winners(sources: list[_Source], table: str, key: str, batch_rows: int) -> np.ndarray:
    """First pass over a table with a unique key: for each row that passes validation, in
    order, whether it is the last valid row of its key."""
    keys: list[pa.Array] = []
    for _, _, checked in _checked(sources, table, None, batch_rows):
        keys.append(checked.good().column(key))
    total = sum(len(k) for k in keys)
    if not total:
        return np.zeros(0, dtype=bool)
    ids = pa.chunked_array(keys, pa.string())
    pos = pa.array(np.arange(total, dtype=np.int64))
    last = pa.table({"k": ids, "p": pos}).group_by("k").aggregate([("p", "max")]).column("p_max")
    winner = np.zeros(total, dtype=bool)
    winner[last.to_numpy()] = True
    return winner


def _validated(src: _Source, raw: _Raw, checked: CheckedBatch) -> ValidatedBatch:
    idx, columns, reasons = checked.bad_rows()
    entries: list[tuple[int, str | None, str, str]] = []
    if len(idx):
        rows = raw.row_numbers(idx)
        raw_rows = raw.batch.take(pa.array(idx)).to_pylist()
        entries = [
            (int(r), c, why, record_json(rec))
            for r, c, why, rec in zip(rows.tolist(), columns, reasons, raw_rows, strict=True)
        ]
    if raw.malformed:
        entries = sorted(entries + raw.malformed, key=lambda e: e[0])
    bad = quarantine_table(
        checked.table,
        str(src.path),
        [e[0] for e in entries],
        [e[1] for e in entries],
        [e[2] for e in entries],
        [e[3] for e in entries],
    )
    return ValidatedBatch(checked.good(), bad, src.path, raw.batch.num_rows + len(raw.malformed))


def read_table(
    bundle_dir: Path,
    table: str,
    *,
    known_accounts: pa.Array | None = None,
    batch_rows: int = 200_000,
    files: list[Path] | None = None,
) -> Iterator[ValidatedBatch]:
    """Read, validate and normalise one table of a bundle, batch by batch.

    The files of the table are found and their headers / schemas checked now (a
    :class:`TableError` is raised here, before anything is yielded); the rows are read lazily.
    ``known_accounts``: the account ids of the bundle; rows of a link table naming another
    account are rejected.  In ``accounts`` a repeated ``account_id`` keeps its last valid row
    (this reads the accounts files twice).  Yields nothing for an absent table.  ``files``: the
    table's files when the caller found them already (``bundle.open_bundle``).
    """
    if table not in TABLES:
        raise ValueError(f"not a contract table: {table!r}")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    spec = TABLES[table]
    if files is None:
        files = find_table_files(bundle_dir, table)
    sources = [_SOURCES[_format_of(p)](spec, p) for p in files]
    for src in sources:
        src.check()
    known = _known_set(known_accounts) if spec.references_accounts else None
    return _read(sources, table, known, batch_rows)


def _read(
    sources: list[_Source], table: str, known: AccountSet | None, batch_rows: int
) -> Iterator[ValidatedBatch]:
    key = _UNIQUE_KEY.get(table)
    winner = _winners(sources, table, key, batch_rows) if key else None
    cursor = 0
    for src, raw, checked in _checked(sources, table, known, batch_rows):
        if winner is not None and key is not None:
            good = checked.good_positions()
            keep = winner[cursor : cursor + len(good)]
            cursor += len(good)
            if len(keep) != len(good):
                raise src.fail("the file changed while it was being read")
            if not keep.all():
                mask = np.zeros(checked.num_rows, dtype=bool)
                mask[good[~keep]] = True
                checked.reject(mask, key, DUPLICATE_ACCOUNT_REASON)
        vb = _validated(src, raw, checked)
        if vb.rows_read:
            yield vb


# --------------------------------------------------------------------------- benchmark


def bench_read(
    bundle_dir: Path,
    *,
    table: str = "interactions",
    known_accounts: pa.Array | None = None,
    batch_rows: int = 200_000,
    repeat: int = 3,
) -> dict[str, Any]:
    """Rows/s of ``read_table`` against ``pyarrow.parquet.read_table`` on the same (Parquet)
    files; best of ``repeat`` runs each.  ``ratio`` = read_table time / pyarrow time."""
    files = find_table_files(bundle_dir, table)
    if not files or any(_format_of(p) != ".parquet" for p in files):
        raise ValueError(f"bench_read needs the '{table}' table as Parquet file(s)")
    pa_best = rt_best = math.inf
    rows = good = bad = 0
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        rows = sum(pq.read_table(p).num_rows for p in files)
        pa_best = min(pa_best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        good = bad = 0
        for vb in read_table(bundle_dir, table, known_accounts=known_accounts, batch_rows=batch_rows):
            good += vb.good.num_rows
            bad += vb.bad.num_rows
        rt_best = min(rt_best, time.perf_counter() - t0)
    return {
        "table": table,
        "files": len(files),
        "rows": rows,
        "good_rows": good,
        "bad_rows": bad,
        "pyarrow_seconds": pa_best,
        "read_table_seconds": rt_best,
        "pyarrow_rows_per_s": rows / pa_best if pa_best else math.inf,
        "read_table_rows_per_s": rows / rt_best if rt_best else math.inf,
        "ratio": rt_best / pa_best if pa_best else math.inf,
    }


def write_synthetic_interactions(
    path: Path, rows: int, *, accounts: int = 50_000, seed: int = 0, row_group_rows: int = 1_000_000
) -> pa.Array:
    """Write a synthetic ``interactions`` Parquet file (for :func:`bench_read`) and return the
    account ids it uses.  About 1 row in 1000 is deliberately bad; 1 in 50 IPs is IPv6."""
    rng = np.random.default_rng(seed)
    acct_ids = pa.array([f"acct-{i:07d}" for i in range(accounts)])
    n_ips = max(1, accounts * 2)
    v4 = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 255, size=(n_ips, 4))]
    v6 = [f"2001:db8:{a:x}:{b:x}::{c:x}" for a, b, c in rng.integers(0, 65535, size=(n_ips // 50 + 1, 3))]
    ip_pool = pa.array(v4 + v6)
    models = pa.array(["m-large", "m-medium", "m-small", "m-code"])
    cats = pa.array(["chat", "coding", "math", "reasoning", "agentic"])
    writer = None
    try:
        for start in range(0, rows, row_group_rows):
            n = min(row_group_rows, rows - start)
            acct = rng.integers(0, accounts, n)
            ts_ms = 1_767_225_600_000 + np.sort(rng.integers(0, 90 * 86_400_000, n))
            ts = pc.strftime(pa.array(ts_ms, pa.timestamp("ms", tz="UTC")), "%Y-%m-%dT%H:%M:%S")
            ip_idx = (acct * 2 + rng.integers(0, 2, n)) % len(ip_pool)
            itok = rng.integers(0, 4000, n)
            otok = rng.integers(0, 2000, n)
            bad = rng.random(n) < 0.001
            itok[bad] = -1
            batch = pa.table(
                {
                    "account_id": pc.take(acct_ids, pa.array(acct)),
                    "ts": pc.binary_join_element_wise(ts, "Z", ""),
                    "ip": pc.take(ip_pool, pa.array(ip_idx)),
                    "device_id": pa.array([f"dev-{a:07d}" for a in (acct // 3).tolist()]),
                    "api_key_id": pa.array([f"key-{a:07d}" for a in acct.tolist()]),
                    "model": pc.take(models, pa.array(rng.integers(0, len(models), n))),
                    "input_tokens": pa.array(itok, pa.int64()),
                    "output_tokens": pa.array(otok, pa.int64()),
                    "prompt_fingerprint": pa.array([f"{x:016x}" for x in rng.integers(0, 2**62, n).tolist()]),
                    "category": pc.take(cats, pa.array(rng.integers(0, len(cats), n))),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_table(batch)
    finally:
        if writer is not None:
            writer.close()
    return acct_ids


if __name__ == "__main__":  # python -m sybilgraph.ingest.readers [ROWS]
    import sys
    import tempfile

    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory() as tmp:
        ids = write_synthetic_interactions(Path(tmp) / "interactions.parquet", n_rows)
        print(json.dumps(bench_read(Path(tmp), known_accounts=ids), indent=2))
