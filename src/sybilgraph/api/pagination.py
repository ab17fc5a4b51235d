"""Relay connections: one generic ``Connection[E]``, one ``page()`` helper, keyset cursors.

Pages are keyset pages (``WHERE key > last key``), never ``SKIP n``: deep pages stay as cheap as
the first and a page does not shift when rows are added before it. A cursor is the key of its
row, as base64url JSON tagged with what it pages over, so a cursor from one list is refused by
another instead of silently returning the wrong page. Every list of the schema is a
``Connection`` over its edge type (``Edge[T]`` where an edge is just a cursor and a node); a
statement fetches ``first + 1`` rows, and ``page()`` turns them into edges and ``PageInfo``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from sybilgraph.settings.api import MAX_PAGE_SIZE
from sybilgraph.api.errors import BadInput

__all__ = [
    "MAX_ID_LENGTH",
    "Connection",
    "Edge",
    "PageInfo",
    "check_first",
    "check_id",
    "decode_cursor",
    "encode_cursor",
    "page",
]

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R")
C = TypeVar("C", bound="Connection[Any]")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[E]):
    edges: list[E]
    page_info: PageInfo
    total: strawberry.Private[int | Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many there are in all (counted only when asked for).")
    async def total_count(self) -> int:
        return self.total if isinstance(self.total, int) else await self.total()


def page(
    cls: type[C],
    rows: Sequence[R],
    first: int,
    after: str | None,
    edge: Callable[[R], Any],
    total: int | Callable[[], Awaitable[int]],
) -> C:
    """A connection of the first ``first`` of ``rows`` (fetched as ``first + 1``: one more means
    there is a next page)."""
    edges = [edge(r) for r in rows[:first]]
    info = PageInfo(
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return cls(edges=edges, page_info=info, total=total)

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
