"""Attribution parameters: one frozen, documented object, stored with every run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = ["AttributionParams", "DEFAULT_KIND_WEIGHTS", "KIND_FAMILIES", "PERSONAL_KINDS"]

# How much one shared identifier of each kind says about common control, before rarity.
# A card or device is personal; an IP is shared by households and offices; a subnet, a TLS
# client or an email domain by many more; prompt templates count through co-use of a pool.
# Families: evidence of two different families corroborates; within a family it does not.
KIND_FAMILIES: dict[str, str] = {
    "card": "payment",
    "device": "device",
    "tls": "client",
    "ip": "network",
    "subnet": "network",
    "template": "content",
    # An e-mail domain says where someone studies or works, as an office IP does.
    "email_domain": "network",
}
# Kinds personal enough to link on their own (with enough weight).
PERSONAL_KINDS: frozenset[str] = frozenset({"card", "device"})

DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    "card": 1.0,
    "device": 0.9,
    "ip": 0.6,
    "template": 0.5,
    "tls": 0.35,
    "subnet": 0.25,
    "email_domain": 0.3,
}


@dataclass(frozen=True)
class AttributionParams:
    seed: int = 42
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    # Identifiers used by more than max(hub_min_accounts, hub_fraction * accounts) accounts are
    # hubs (carrier NAT, VPN exits, browser TLS, popular templates): they carry no evidence. The
    # cut-off is a share of the population, so it scales with the bundle.
    hub_fraction: float = 0.05
    hub_min_accounts: int = 50
    # Identifiers with at most this many accounts contribute every pair of their accounts;
    # larger ones contribute sorted-neighbourhood pairs (each account with its next `window`
    # accounts in one global pseudo-random order), so pools shared by a coherent group keep
    # adding weight to the same pairs while shared-by-strangers hubs do not.
    exact_max_accounts: int = 64
    window: int = 10
    passes: int = 3
    # Salt of the pseudo-random sorted-neighbourhood orders ("" is the reference order); the
    # evaluation re-runs with other salts to measure how much results depend on the order.
    order_salt: str = ""
    # Pairs whose summed evidence stays below this are not linked.
    min_edge_weight: float = 3.0
    # Network evidence alone links two accounts only through an IP of at most this many
    # accounts (a home, a reused proxy); larger shared IPs need corroboration by another family.
    small_network_max: int = 8
    # A family of evidence corroborates another only with at least this weight of its own.
    family_min_weight: float = 3.0
    # One non-network family alone links when it is this strong (a shared template pool).
    single_family_min_weight: float = 30.0
    # Shared templates count only when they are at least this share of the heavier account's
    # template evidence: a private pool is most of what its accounts use; heavy users of common
    # tools share many templates with anybody, but a small share of what they use.
    content_min_overlap: float = 0.3
    # Content links on its own (no other family of evidence) only above this share: among heavy
    # users of popular templates a third overlaps by chance (measured on generated bundles: 95%
    # of such stranger pairs stay below 0.46), inside an operator's private pool most does.
    content_solo_min_overlap: float = 0.5
    leiden_gamma: float = 1.0
    leiden_max_levels: int = 10
    # Pieces of one operator cut apart by modularity's resolution limit are merged back
    # (merging.py): both pieces this large, edges between them this dense relative to the
    # sparser piece, and this many of them per member of the smaller piece.
    merge_min_size: int = 20
    merge_min_density_ratio: float = 0.01
    merge_min_cross_edges_per_member: float = 0.5
    min_operator_size: int = 2
    # Members whose evidence inside their community is below core_ratio x the community's median
    # are peripheral and left unattributed (communities of at least core_min_size).
    core_ratio: float = 0.1
    core_min_size: int = 6
    flag_threshold: float = 0.5
    # A campaign is many accounts: groups smaller than this are never flagged, whatever their
    # score (a developer's three automation accounts are not a distillation campaign).
    flag_min_accounts: int = 10
    # Usage intensity: a link used `count` times counts 1 - exp(-count / scale) of its weight.
    intensity_scale: dict[str, float] = field(
        default_factory=lambda: {"template": 3.0, "ip": 2.0, "subnet": 2.0, "tls": 2.0}
    )
    # Matching to earlier operators: a new community keeps an old id when they share at least
    # this share of the smaller of the two.
    match_min_overlap: float = 0.5

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)
