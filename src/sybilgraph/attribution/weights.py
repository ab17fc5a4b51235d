"""Evidence weights by identifier kind and rarity (inverse document frequency).

A card shared by 40 accounts is strong evidence; an IP shared by thousands of strangers is
noise. The weight of an identifier used by ``n`` of ``N`` accounts is::

    w = kind_weight * ln(N / n)   for n < n_max,   else 0,
    n_max = max(hub_min_accounts, hub_fraction * N)

``ln(N / n)`` is the log of how unlikely a stranger is to share the value by chance, the
term-frequency adjustment of record linkage (Fellegi-Sunter; splink's term-frequency
adjustments): rare shared values weigh more than common ones. Hubs weigh nothing, with the hub
cut-off a share of the population so it scales with the bundle.

Rarity alone cannot tell co-location from common control: a campus puts hundreds of strangers
behind a few IPs, which are rare in the population. So network evidence (IPs, subnets) links
two accounts on its own only through small IPs (a home, a proxy reused by a few accounts);
otherwise an edge needs a second family of evidence or a personal identifier (see
``candidates.py``).
"""

from __future__ import annotations

import math

from sybilgraph.attribution.params import AttributionParams

__all__ = ["hub_cutoff", "identifier_weight"]


def hub_cutoff(n_accounts_total: int, params: AttributionParams) -> float:
    return max(float(params.hub_min_accounts), params.hub_fraction * n_accounts_total)


def identifier_weight(kind: str, n: int, n_accounts_total: int, params: AttributionParams) -> float:
    """The evidence one shared identifier gives, 0 for hubs and unknown kinds."""
    if n < 2:
        return 0.0
    n_max = hub_cutoff(n_accounts_total, params)
    if n >= n_max:
        return 0.0
    return params.kind_weights.get(kind, 0.0) * math.log(n_accounts_total / n)
