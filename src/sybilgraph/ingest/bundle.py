"""A bundle directory, discovered once: its identity, its tables' files, and its content digest.

Identity (the data contract's "Deliveries"): ``bundle.json``'s ``bundle_id`` when the bundle
carries one, else the directory's name. Two deliveries with one id are one bundle delivered
twice (the later replaces the earlier); the *digest* (a hash of the contract files' names and
bytes, not of ``bundle.json``) tells a redelivery with new content from the same content again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sybilgraph.contract import TABLE_ORDER
from sybilgraph.errors import BundleError, TableError
from sybilgraph.ingest.luhn import redact_pans
from sybilgraph.ingest.readers import find_table_files, unknown_entries
from sybilgraph.ingest.validate import MAX_ID_LENGTH

__all__ = ["BUNDLE_METADATA", "Bundle", "open_bundle"]

BUNDLE_METADATA = "bundle.json"


@dataclass(frozen=True)
class Bundle:
    path: Path
    bundle_id: str
    files: Mapping[str, list[Path]]  # contract table -> its files ([] when absent)
    table_errors: Mapping[str, str]  # contract table -> why its files cannot be told apart
    unknown: list[str]  # entries that are not contract tables (warned about, never an error)
    digest: str
    source: str | None = None
    produced_at: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)


def open_bundle(path: Path) -> Bundle:
    """Discover a bundle directory; ``BundleError`` when it is no bundle at all."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"bundle directory not found: {path}")
    metadata = _metadata(path)
    files: dict[str, list[Path]] = {}
    errors: dict[str, str] = {}
    for table in TABLE_ORDER:
        try:
            files[table] = find_table_files(path, table)
        except TableError as e:
            files[table], errors[table] = [], str(e)
    if not files["accounts"] and "accounts" not in errors:
        raise BundleError(f"{path}: no accounts table (accounts.csv, accounts.parquet, ...); it is required")
    return Bundle(
        path=path,
        bundle_id=_bundle_id(path, metadata),
        files=files,
        table_errors=errors,
        unknown=[name for name in unknown_entries(path) if name != BUNDLE_METADATA],
        digest=_digest(path, files),
        source=_text(metadata.get("source")),
        produced_at=_text(metadata.get("produced_at")),
        metadata=metadata,
    )


def _metadata(path: Path) -> dict[str, object]:
    meta = path / BUNDLE_METADATA
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BundleError(f"{meta}: not readable as JSON ({e}); fix it or remove it (the bundle id is then the directory name)") from None
    if not isinstance(data, dict):
        raise BundleError(f"{meta}: must be a JSON object like {{\"bundle_id\": \"...\"}}")
    return data


def _bundle_id(path: Path, metadata: Mapping[str, object]) -> str:
    if "bundle_id" not in metadata:
        return path.resolve().name
    value = metadata["bundle_id"]
    if not isinstance(value, str) or not value.strip():
        raise BundleError(f"{path / BUNDLE_METADATA}: bundle_id must be a non-empty string")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise BundleError(f"{path / BUNDLE_METADATA}: bundle_id must be 1-{MAX_ID_LENGTH} printable characters")
    return value


# bundle.json's free text is kept (manifest, report) for the people who deliver bundles: bounded,
# printable, and never with a card number in it (a source field is free text, like a label's).
_MAX_TEXT = 256


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = "".join(c if c.isprintable() else " " for c in str(value)).strip()
    return redact_pans(text)[:_MAX_TEXT] or None


def _digest(path: Path, files: Mapping[str, list[Path]]) -> str:
    """Content hash of the contract files: the same content always has the same digest."""
    h = hashlib.sha256()
    for table in TABLE_ORDER:
        for file in files.get(table, []):
            h.update(str(file.relative_to(path)).encode())
            with open(file, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()[:24]
