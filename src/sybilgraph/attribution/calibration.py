"""Confidence calibration: membership posteriors to probabilities that an account belongs.

The membership posterior (``membership.py``) is a model probability; its calibration is measured
and corrected on generated bundles with known truth by ``sybilgraph calibrate`` (Platt scaling on
the posterior's log-odds, Platt 1999: ``p = 1 / (1 + exp(-(a * logit + b)))``), shipped as
package data (``models/confidence.json``), so attribution needs no truth at run time. Its
reliability is reported by ``sybilgraph evaluate`` (ECE and the reliability table).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["Calibration", "calibrate", "load_calibration"]


@dataclass(frozen=True)
class Calibration:
    a: float = 1.0
    b: float = 0.0

    def apply(self, log_odds_bits: np.ndarray) -> np.ndarray:
        z = self.a * np.asarray(log_odds_bits, dtype=float) * np.log(2) + self.b
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def to_json(self, fitted_on: dict[str, object]) -> str:
        return json.dumps({"a": self.a, "b": self.b, "fitted_on": fitted_on}, indent=2, sort_keys=True)


@lru_cache(maxsize=8)
def load_calibration(models_dir: str = "") -> Calibration:
    """The fitted calibration shipped with the package, or the one ``sybilgraph calibrate`` wrote
    to ``models_dir``."""
    if models_dir:
        text = (Path(models_dir) / "confidence.json").read_text()
    else:
        text = resources.files("sybilgraph.attribution").joinpath("models/confidence.json").read_text()
    d = json.loads(text)
    return Calibration(a=float(d["a"]), b=float(d["b"]))


def calibrate(log_odds_bits: np.ndarray, calibration: Calibration | None = None) -> np.ndarray:
    """Confidence from membership log-odds (bits)."""
    return (calibration or load_calibration()).apply(log_odds_bits)
