"""Stable operator ids across runs: new communities matched to existing operators (pure).

Communities get fresh ids from every Leiden run; investigators need an operator to keep its id
while its membership mostly stays. Matching is greedy by shared members, largest overlap first
(as in cluster tracking over time, Greene, Doyle & Cunningham 2010): a community takes the id of
an earlier operator when they share at least ``min_overlap`` of the smaller one and neither is
taken. What is left is lineage: a community built mostly from an operator whose id went to
another community *split from* it; an operator whose members now live in another operator's
community *merged into* it. Communities that match nothing get a new id derived from their
members, so the same data always yields the same ids.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Lineage", "MatchResult", "match_operators", "new_operator_id"]


@dataclass(frozen=True)
class Lineage:
    kind: str  # "split" (new SPLIT_FROM old) or "merge" (old MERGED_INTO new)
    child: str  # for split: the new operator; for merge: the operator whose members moved
    parent: str  # for split: the operator it split from; for merge: the operator that took them
    shared: int


@dataclass
class MatchResult:
    ids: list[str]  # operator id per new cluster, in input order
    lineage: list[Lineage] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)  # earlier operators with no successor


def new_operator_id(members: Sequence[str]) -> str:
    digest = hashlib.sha256("\x1f".join(sorted(members)).encode()).hexdigest()
    return f"op-{digest[:12]}"


def match_operators(
    clusters: Sequence[Sequence[str]],
    previous: Mapping[str, Sequence[str]],
    min_overlap: float = 0.5,
) -> MatchResult:
    prev_of: dict[str, str] = {a: op for op, members in previous.items() for a in members}
    prev_size = {op: len(m) for op, m in previous.items()}
    overlaps: list[tuple[int, str, int]] = []  # (cluster index, old operator, shared)
    for i, members in enumerate(clusters):
        for op, shared in Counter(prev_of[a] for a in members if a in prev_of).items():
            overlaps.append((i, op, shared))
    overlaps.sort(key=lambda t: (-t[2], t[0], t[1]))

    ids: list[str | None] = [None] * len(clusters)
    taken: set[str] = set()
    for i, op, shared in overlaps:
        if ids[i] is not None or op in taken:
            continue
        if shared >= min_overlap * min(len(clusters[i]), prev_size[op]):
            ids[i] = op
            taken.add(op)

    used: set[str] = set(taken)
    for i, members in enumerate(clusters):
        if ids[i] is None:
            candidate = new_operator_id(members)
            while candidate in used or (candidate in previous and candidate not in taken):
                candidate = new_operator_id([*members, candidate])
            ids[i] = candidate
            used.add(candidate)
    final = [str(x) for x in ids]

    result = MatchResult(ids=final)
    for i, op, shared in overlaps:
        new_id = final[i]
        if new_id == op:
            continue
        if op in taken and new_id not in previous and shared >= min_overlap * len(clusters[i]):
            result.lineage.append(Lineage("split", child=new_id, parent=op, shared=shared))
        elif op not in taken and shared >= min_overlap * prev_size[op]:
            result.lineage.append(Lineage("merge", child=op, parent=new_id, shared=shared))
    merged = {lin.child for lin in result.lineage if lin.kind == "merge"}
    result.retired = sorted(op for op in previous if op not in taken and op not in merged)
    return result
