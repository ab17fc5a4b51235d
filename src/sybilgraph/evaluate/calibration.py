"""Reliability of per-account confidence: among accounts placed with confidence around c, the
share that truly belong to the operator they were placed with (pure).

"Truly belongs" means: the account's true operator is the majority true operator of the
predicted operator's members (so an operator's id needs no matching to truth names).
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel

__all__ = ["ReliabilityBin", "reliability", "expected_calibration_error", "belongs"]

EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0000001)


class ReliabilityBin(BaseModel):
    lo: float
    hi: float
    n: int
    mean_confidence: float | None
    accuracy: float | None


def belongs(export: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """Per export row: does the account belong to the operator it was placed with?"""
    true_op = export["account_id"].map(truth.set_index("account_id")["operator"]).fillna("").astype(str)
    frame = pd.DataFrame({"op": export["operator_id"].astype(str), "true": true_op})
    majority = frame[frame["true"] != ""].groupby("op")["true"].agg(lambda s: s.value_counts().index[0])
    return (frame["true"] != "") & (frame["op"].map(majority).fillna("") == frame["true"])


def reliability(export: pd.DataFrame, truth: pd.DataFrame) -> list[ReliabilityBin]:
    ok = belongs(export, truth).to_numpy()
    conf = export["confidence"].astype(float).to_numpy()
    bins = []
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        m = (conf >= lo) & (conf < hi)
        n = int(m.sum())
        bins.append(
            ReliabilityBin(
                lo=lo, hi=min(hi, 1.0), n=n,
                mean_confidence=float(conf[m].mean()) if n else None,
                accuracy=float(ok[m].mean()) if n else None,
            )
        )
    return bins


def expected_calibration_error(bins: list[ReliabilityBin]) -> float | None:
    total = sum(b.n for b in bins)
    if not total:
        return None
    return float(
        sum(b.n * abs((b.mean_confidence or 0.0) - (b.accuracy or 0.0)) for b in bins if b.n) / total
    )


