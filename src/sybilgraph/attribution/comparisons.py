"""What two accounts are compared on, and how each comparison is cut into levels (pure).

The Fellegi-Sunter model (Fellegi & Sunter, 1969; as in splink) compares two records on several
*comparisons*, each with a few exclusive *levels*; a level's weight is ``log2(m / u)``, ``m`` and
``u`` being how often pairs of one operator and unrelated pairs fall in it
(``fellegi_sunter.py``). This module says what the comparisons are.

The model multiplies comparisons as if they were independent given the pair's status, so each
comparison gathers evidence whose sharing is *correlated among unrelated accounts*:

* ``payment``: a shared card, else a shared BIN (a card implies its BIN);
* ``device``: a shared device fingerprint;
* ``place``: where the accounts are, jointly: the rarest shared IP (else subnet) *and* whether
  they share an e-mail domain. Students of one campus share its NAT IPs *and* its mail domain;
  counted apart, two coincidences would look like two independent pieces of evidence;
* ``client``: a shared TLS fingerprint (the client's software stack). User-agent strings are not
  compared: below the hub cut-off a TLS fingerprint is an uncommon stack, while a user-agent
  string is often one browser version that thousands of strangers share; at equal frequency
  the two mean different things, and a weight estimated for one would be given to the other
  (measured: with user agents compared, as one comparison with TLS or apart, strangers on one
  browser version were linked and pair precision fell);
* ``api_key``: a shared API key;
* ``template_pool``: a shared template *pool* (``pools.py``): prompt templates that are used
  together far more than chance predicts, co-clustered from the data, so the accounts of an
  operator that each send a random subset of its private pool share the pool even when they
  share no single template, while popular tools' templates, which strangers combine at random,
  form no pool, or a *loose* one (used together less than ten times as often as chance
  predicts: heavy users of popular tools combine them a little more than chance), a separate
  level whose weight is estimated like any other; a private core split out of a loose group
  (its templates' users use its other templates far more than chance predicts) is tight
  whatever its lift;
* ``created``: creation-time proximity (accounts made in one burst).

Identifier levels are the frequency bucket of the *rarest* value the two share, the
term-frequency idea of record linkage: sharing a value used by 3 of 250,000 accounts is evidence,
sharing one used by 9,000 is not, and by how much is estimated on each bundle, not set here.

Behaviour (hour profiles, task mix, token profile, API use) is *not* a pairwise comparison: it
says what kind of user an account is, and unrelated accounts of one kind (two automation
clients, two students in one time zone) agree on it far more often than random pairs do, which
breaks the independence the model rests on (measured: it links different operators' accounts
and campus strangers). It is weighed where it is sound, against one operator's own range
(``membership.py``) and in the campaign score.

Levels are integers, 0 = nothing in common (the least similar). Every bucket edge is a choice of
resolution, not a decision threshold: each level's weight is estimated from the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "NULL_LEVEL",
    "Comparison",
    "COMPARISONS",
    "IDENTIFIER_COMPARISONS",
    "KIND_TO_COMPARISON",
    "PLACE_EMAIL_EDGE",
    "bucket_level",
    "comparison",
    "frequency_level",
    "SESSION_MAX_SHARE",
    "place_level",
    "place_levels",
    "rare_agreement",
]

NULL_LEVEL = -1


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # level labels, index = level value
    description: str
    # Identifier comparisons: the kinds they cover; the *primary* kinds rank above the
    # secondary ones (a shared IP is a stronger level than a shared subnet only).
    primary: tuple[str, ...] = ()
    secondary: tuple[str, ...] = ()
    # Frequency bucket edges (share of accounts using the value), rarest first.
    primary_edges: tuple[float, ...] = ()
    secondary_edges: tuple[float, ...] = ()

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def is_identifier(self) -> bool:
        return bool(self.primary)

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.primary + self.secondary


def _bucket_labels(prefix: str, edges: tuple[float, ...]) -> list[str]:
    labels = [f"{prefix} used by <= {e:g} of accounts" for e in edges]
    labels.append(f"{prefix} used by > {edges[-1]:g} of accounts")
    return labels


def _identifier_levels(
    primary: tuple[str, ...], primary_edges: tuple[float, ...], secondary: tuple[str, ...] = (), secondary_edges: tuple[float, ...] = ()
) -> list[str]:
    # Level order: nothing, then secondary buckets (common to rare), then primary buckets
    # (common to rare): a higher level is a more specific agreement.
    levels = ["nothing shared"]
    if secondary:
        levels += list(reversed(_bucket_labels(f"only a shared {'/'.join(secondary)}", secondary_edges)))
    levels += list(reversed(_bucket_labels(f"a shared {'/'.join(primary)}", primary_edges)))
    return levels


def _identifier(
    name: str,
    description: str,
    primary: tuple[str, ...],
    primary_edges: tuple[float, ...],
    secondary: tuple[str, ...] = (),
    secondary_edges: tuple[float, ...] = (),
) -> Comparison:
    return Comparison(
        name=name,
        levels=tuple(_identifier_levels(primary, primary_edges, secondary, secondary_edges)),
        description=description,
        primary=primary,
        secondary=secondary,
        primary_edges=primary_edges,
        secondary_edges=secondary_edges,
    )


_NETWORK_IP_EDGES = (1e-4, 1e-3, 1e-2)
_NETWORK_SUBNET_EDGES = (1e-2,)
# An e-mail domain used by at most this share of accounts is "rare" inside ``place``.
PLACE_EMAIL_EDGE = 1e-2
_EMAIL_LEVELS = ("no shared e-mail domain", f"a shared e-mail domain used by > {PLACE_EMAIL_EDGE:g}", f"a shared e-mail domain used by <= {PLACE_EMAIL_EDGE:g}")
_NETWORK_LEVELS = tuple(_identifier_levels(("ip",), _NETWORK_IP_EDGES, ("subnet",), _NETWORK_SUBNET_EDGES))

IDENTIFIER_COMPARISONS: tuple[Comparison, ...] = (
    _identifier("payment", "a payment instrument, else its BIN", ("card",), (1e-4, 1e-3), ("bin",), (1e-3, 1e-2, 3e-2)),
    _identifier("device", "a device fingerprint", ("device",), (1e-4, 1e-3)),
    Comparison(
        "place",
        tuple(f"{net}; {mail}" for net in _NETWORK_LEVELS for mail in _EMAIL_LEVELS),
        "the rarest shared IP (else subnet), jointly with a shared e-mail domain",
        primary=("ip",),
        secondary=("subnet",),
        primary_edges=_NETWORK_IP_EDGES,
        secondary_edges=_NETWORK_SUBNET_EDGES,
    ),
    _identifier("client", "a TLS fingerprint", ("tls",), (1e-4, 1e-3, 1e-2, 3e-2)),
    _identifier("api_key", "an API key", ("api_key",), (1e-3,)),
    _identifier(
        "template_pool", "a template pool (prompt templates used together)",
        ("template_pool",), (1e-3, 1e-2, 3e-2), ("loose_pool",), (3e-2,),
    ),
)

OTHER_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "created",
        ("created > 30 days apart", "<= 30 days apart", "<= 7 days apart", "<= 1 day apart", "<= 2 hours apart", "<= 10 minutes apart"),
        "how close the two accounts were created",
    ),
)

COMPARISONS: tuple[Comparison, ...] = IDENTIFIER_COMPARISONS + OTHER_COMPARISONS
# The e-mail domain is compared inside ``place``.
KIND_TO_COMPARISON: dict[str, str] = {k: c.name for c in IDENTIFIER_COMPARISONS for k in c.kinds} | {"email_domain": "place"}


def comparison(name: str) -> Comparison:
    for c in COMPARISONS:
        if c.name == name:
            return c
    raise KeyError(f"unknown comparison {name!r}")


def frequency_level(c: Comparison, kind: str, share: float) -> int:
    """The level of sharing one value of ``kind`` used by ``share`` of all accounts.

    Rarer values give higher levels; a primary kind's levels all rank above a secondary kind's.
    For ``place`` this is the network part only (see ``place_level``).
    """
    edges = c.primary_edges if kind in c.primary else c.secondary_edges
    return bucket_level(c, kind, sum(1 for e in edges if share > e))


def bucket_level(c: Comparison, kind: str, bucket: int) -> int:
    """The level of frequency bucket ``bucket`` (0 = rarest) of ``kind`` in ``c``."""
    n_secondary = len(c.secondary_edges) + 1 if c.secondary else 0
    if kind in c.primary:
        edges, base = c.primary_edges, 1 + n_secondary
    elif kind in c.secondary:
        edges, base = c.secondary_edges, 1
    else:
        raise KeyError(f"{kind!r} is not compared by {c.name!r}")
    return base + (len(edges) - bucket)


def place_level(network_level: int, email_share: float | None) -> int:
    """``place`` level from the network part and the shared e-mail domain's share (None: none)."""
    if email_share is None:
        mail = 0
    else:
        mail = 2 if email_share <= PLACE_EMAIL_EDGE else 1
    return network_level * len(_EMAIL_LEVELS) + mail


def place_levels(network_level: np.ndarray, email_share: np.ndarray) -> np.ndarray:
    """Vectorised ``place_level``; ``email_share`` < 0 means no shared e-mail domain."""
    email_share = np.asarray(email_share, dtype=float)
    mail = np.where(email_share < 0, 0, np.where(email_share <= PLACE_EMAIL_EDGE, 2, 1))
    return (np.asarray(network_level, dtype=np.int64) * len(_EMAIL_LEVELS) + mail).astype(np.int8)


# EM training sessions (fellegi_sunter.fit_m) take the pairs that agree on a value of one
# comparison used by at most this share of accounts (for ``place``, an IP used by at most a
# third of that): pairs rich in matches, without restricting which kind of operator they come
# from (a careful operator shares no card or device, only a client and a template pool).
SESSION_MAX_SHARE = 3e-2


def rare_agreement(c: Comparison, levels: np.ndarray) -> np.ndarray:
    """Which pairs agree on a value of ``c`` used by at most ``SESSION_MAX_SHARE`` of accounts."""
    levels = np.asarray(levels)
    if c.name == "place":
        return levels // len(_EMAIL_LEVELS) >= frequency_level(c, "ip", SESSION_MAX_SHARE / 3)
    return levels >= frequency_level(c, c.primary[0], SESSION_MAX_SHARE)
