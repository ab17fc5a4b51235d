"""Attribution parameters: one frozen, documented object, stored with every run.

Evidence weights are not parameters: they are estimated on each bundle (``fellegi_sunter.py``,
``membership.py``) and stored with the run beside these. What is left is resolution and
procedure: how pairs are blocked, how many random pairs measure ``u``, Leiden's settings, and the
product's definition of a campaign.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["AttributionParams"]


@dataclass(frozen=True)
class AttributionParams:
    seed: int = 42
    # Blocking (pairs.BlockingParams): every pair of a value of at most `exact_max` accounts;
    # sorted-neighbourhood pairs (`window` next users, `passes` random orders) of larger ones.
    exact_max_accounts: int = 64
    window: int = 10
    passes: int = 3
    # Salt of the pseudo-random sorted-neighbourhood orders ("" is the reference order); the
    # evaluation re-runs with other salts to measure how much results depend on the order.
    order_salt: str = ""
    # Random pairs that measure u (splink's estimate_u_using_random_sampling uses millions too).
    u_pairs: int = 2_000_000
    # A pair is an edge of the account graph when its match probability is at least this: the
    # Bayes decision between "one operator" and "unrelated", not a tuned threshold.
    edge_probability: float = 0.5
    # Match weights above this many bits are capped as Leiden weights: a household sharing a card,
    # a device and a line is certain already; more bits only let one pair dominate its community.
    max_edge_bits: float = 40.0
    leiden_gamma: float = 1.0
    leiden_max_levels: int = 10
    # Groups of fewer accounts are not operators.
    min_operator_size: int = 2
    # An account belongs to a group when its membership posterior is above this (Bayes
    # decision); its confidence is that posterior, calibrated (calibration.py).
    membership_probability: float = 0.5
    flag_threshold: float = 0.5
    # A campaign is many accounts: groups smaller than this are never flagged, whatever their
    # score (a developer's three automation accounts are not a distillation campaign).
    flag_min_accounts: int = 10
    # Matching to earlier operators: a new group keeps an old id when they share at least this
    # share of the smaller of the two.
    match_min_overlap: float = 0.5
    # Fitted campaign score and confidence calibration: the package's (""), or a directory
    # written by `sybilgraph calibrate` (evaluation fits them without a family and scores it).
    models_dir: str = ""
    # Identifiers used by more than max(hub_min_accounts, hub_fraction x accounts) accounts are
    # hubs: never blocked on nor compared (ingest keeps no per-account link past its own cut-off,
    # which the settings keep at or above this one).
    hub_fraction: float = 0.05
    hub_min_accounts: int = 50

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)
