"""Relay cursors and argument checks shared by every paginated field.

Pages are keyset pages (``WHERE key > last key``), never ``SKIP n``: deep pages stay as cheap as
the first and a page does not shift when rows are added before it. A cursor is the key of its
row, as base64url JSON tagged with what it pages over, so a cursor from one list is refused by
another instead of silently returning the wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sybilgraph.settings.api import MAX_PAGE_SIZE
from sybilgraph.api.errors import BadInput

__all__ = ["MAX_ID_LENGTH", "check_first", "check_id", "decode_cursor", "encode_cursor"]

MAX_ID_LENGTH = 128  # docs/data-contract.md: identifiers are 1-128 printable characters


def encode_cursor(tag: str, key: Any) -> str:
    raw = json.dumps({"t": tag, "k": key}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(tag: str, cursor: str | None, arg: str = "after") -> Any:
    """The key in ``cursor``, or None without one; BadInput when it is not a cursor of ``tag``."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        raise BadInput(f"Invalid cursor for '{arg}'.") from None
    if not isinstance(data, dict) or data.get("t") != tag or "k" not in data:
        raise BadInput(f"Invalid cursor for '{arg}'.")
    return data["k"]


def check_first(first: int, arg: str = "first") -> int:
    if first < 0 or first > MAX_PAGE_SIZE:
        raise BadInput(f"Argument '{arg}' must be between 0 and {MAX_PAGE_SIZE} (got {first}).")
    return first


def check_id(value: str, arg: str) -> str:
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise BadInput(f"Argument '{arg}' must be 1 to {MAX_ID_LENGTH} printable characters.")
    return value
