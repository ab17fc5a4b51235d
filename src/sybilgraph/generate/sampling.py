"""Vectorised sampling primitives shared by the population and activity generators.

Why: every row of every table is drawn from a per-account distribution (its hour-of-day shape,
its task mix, its pool of IPs). Looping over accounts in Python would be far too slow at 47M
rows, so each primitive takes a row -> account mapping and draws all rows in one numpy call.
"""

from __future__ import annotations

import numpy as np

from sybilgraph.generate.config import DAY_MS, HOUR_MS

__all__ = [
    "ProfileSampler",
    "allocate_counts",
    "pick_from_pools",
    "sample_times",
    "wrap_into",
]


class ProfileSampler:
    """Draws a bin for each row from the row's own discrete distribution (one of a few profiles).

    The cumulative distributions of all profiles are laid end to end, profile p occupying the
    values [p, p+1), so one ``searchsorted`` serves rows of every profile at once.
    """

    def __init__(self, profiles: np.ndarray) -> None:
        probs = np.asarray(profiles, dtype=np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)
        self.n_bins = probs.shape[1]
        cdf = np.cumsum(probs, axis=1)
        cdf[:, -1] = 1.0
        self._flat = (cdf + np.arange(len(probs))[:, None]).ravel()

    def sample(self, rng: np.random.Generator, profile: np.ndarray) -> np.ndarray:
        profile = np.asarray(profile, dtype=np.int64)
        u = rng.random(len(profile))
        pos = np.searchsorted(self._flat, profile + u, side="right")
        return np.minimum(pos - profile * self.n_bins, self.n_bins - 1)


def pick_from_pools(
    rng: np.random.Generator,
    ptr: np.ndarray,
    flat: np.ndarray,
    owner: np.ndarray,
    skew: np.ndarray | float = 1.0,
) -> np.ndarray:
    """One item per row from the owner's pool ``flat[ptr[o]:ptr[o+1]]``.

    ``skew`` > 1 favours the front of the pool (a person's home line over the café's Wi-Fi):
    position = floor(len * u**skew).
    """
    start = ptr[owner]
    length = ptr[owner + 1] - start
    u = rng.random(len(owner)) ** np.asarray(skew, dtype=np.float64)
    pos = np.minimum((u * length).astype(np.int64), length - 1)
    return flat[start + pos]


def allocate_counts(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to exactly ``total`` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    exact = w / w.sum() * total
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        # Stable ordering keeps the result deterministic when remainders tie.
        order = np.argsort(-(exact - base), kind="stable")[:short]
        base[order] += 1
    return base


def wrap_into(t: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Fold times into [start, end) (per row), keeping their time of day where possible."""
    span = np.maximum(end - start, 1)
    return start + np.mod(t - start, span)


def sample_times(
    rng: np.random.Generator,
    hours: ProfileSampler,
    start: np.ndarray,
    end: np.ndarray,
    profile: np.ndarray,
    tz: np.ndarray,
    office: np.ndarray,
) -> np.ndarray:
    """Epoch-ms times in [start, end) following each row's local hour-of-day profile.

    Office rows move 85% of their weekend draws onto a weekday of the same week.
    """
    n = len(start)
    d0 = start // DAY_MS
    d1 = (end - 1) // DAY_MS + 1
    day = d0 + (rng.random(n) * (d1 - d0)).astype(np.int64)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    move = office & (weekday >= 5) & (rng.random(n) < 0.85)
    day = np.where(move, day - weekday + rng.integers(0, 5, n), day)
    local_hour = hours.sample(rng, profile)
    t = day * DAY_MS + (local_hour - tz.astype(np.int64)) * HOUR_MS
    t += (rng.random(n) * HOUR_MS).astype(np.int64)
    return wrap_into(t, start, end)
