"""Clusters are compared as partitions, never by their ids."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

__all__ = ["canonical", "same_partition"]


def canonical(labels: Sequence[Hashable]) -> list[int]:
    """Labels renumbered by first appearance: equal for equal partitions."""
    seen: dict[Hashable, int] = {}
    return [seen.setdefault(x, len(seen)) for x in labels]


def same_partition(a: Sequence[Hashable], b: Sequence[Hashable]) -> bool:
    return len(a) == len(b) and canonical(a) == canonical(b)
