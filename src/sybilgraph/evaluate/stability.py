"""Operator-id stability between two attributions (pure).

Investigators hold on to operator ids: a case file names ``op-...``. Two runs are compared by
the ids they hand out, not by their partitions (the partition metrics are in ``metrics.py``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

from pydantic import BaseModel

__all__ = ["IdStability", "same_operator_share", "ids_kept", "true_operator_of"]


class IdStability(BaseModel):
    all_ids: float  # earlier operator ids still handed out
    true_operator_ids: float  # the same, among operators that stand for a true operator
    flagged_ids: float  # the same, among the earlier flagged operators
    n_all: int
    n_true_operator: int
    n_flagged: int


def same_operator_share(before: Mapping[str, str], after: Mapping[str, str]) -> float:
    """Share of the accounts attributed before that carry the same operator id after."""
    return sum(after.get(a) == op for a, op in before.items()) / max(1, len(before))


def true_operator_of(members: list[str], truth: Mapping[str, str | None]) -> str | None:
    """The true multi-account operator most of ``members`` belong to, if any (strict majority)."""
    counts = Counter(truth.get(a) for a in members)
    top, n = counts.most_common(1)[0] if counts else (None, 0)
    return top if top is not None and 2 * n > len(members) else None


def ids_kept(
    before: Mapping[str, str], after: Mapping[str, str], truth: Mapping[str, str | None], flagged_before: set[str]
) -> IdStability:
    """``before``/``after``: account -> operator id; ``truth``: account -> true operator or None.

    An operator made of accounts that share no true operator (a coincidence of evidence) may
    rightly vanish when more data arrives; the acceptance question is whether operators that
    stand for a real one keep their ids, so both shares are reported.
    """
    members: dict[str, list[str]] = defaultdict(list)
    for a, op in before.items():
        members[op].append(a)
    after_ids = set(after.values())
    real = {op for op, ms in members.items() if true_operator_of(ms, truth) is not None}

    def share(ops: set[str]) -> float:
        return len(ops & after_ids) / len(ops) if ops else 1.0

    return IdStability(
        all_ids=share(set(members)),
        true_operator_ids=share(real),
        flagged_ids=share(flagged_before & set(members)),
        n_all=len(members),
        n_true_operator=len(real),
        n_flagged=len(flagged_before & set(members)),
    )
