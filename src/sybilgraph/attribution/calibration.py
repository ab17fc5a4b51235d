"""Confidence calibration: raw evidence scores to probabilities that an account belongs.

The map is a logistic curve on the raw score, ``p = 1 / (1 + exp(-(a * raw + b)))``, fitted on
generated bundles with known truth by ``sybilgraph calibrate`` (Platt scaling, Platt 1999) and
stored here as constants so attribution needs no truth at run time. Its reliability is checked
by ``sybilgraph evaluate`` (the calibration table in docs/evaluation.md).
"""

from __future__ import annotations

import math

__all__ = ["calibrate", "CALIBRATION"]

# Fitted by `sybilgraph calibrate` (see docs/evaluation.md); identity-like until fitted.
CALIBRATION: tuple[float, float] = (6.0, -2.0)


def calibrate(raw: float, coefficients: tuple[float, float] = CALIBRATION) -> float:
    a, b = coefficients
    z = a * raw + b
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
