"""The synthetic population: who exists, what identifiers each account uses, how each behaves.

Why a population first and rows second: attribution works on what accounts *share* (cards,
devices, IPs, templates, TLS stacks, schedules). The generator therefore decides, per account,
the pools it draws from — a household's one home line, an organisation's corporate card, an
operator's proxy pool — and only then draws rows from those pools (activity.py, tables.py).
The benign population is built to carry every confounder that fools naive methods: shared
homes, carrier NAT and VPN exits, campuses, organisations, heavy developers, popular tool
templates and the handful of TLS stacks everybody has. The operators (config.OPERATORS) each
share *some* evidence among their own accounts, more than strangers share, but never the same
kind of evidence, so no single signal finds all of them.

All state is numpy arrays indexed by account (and by registry index for IPs, devices, cards,
templates); nothing here loops over rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from sybilgraph.generate import vocab
from sybilgraph.generate.config import (
    BENIGN,
    BENIGN_END,
    BENIGN_START,
    CAMPAIGN_END,
    CAMPAIGN_START,
    DAY_MS,
    FAKE_INTERACTIONS_AT_ONE,
    HOUR_MS,
    OPERATORS,
    BenignRates,
    OperatorSpec,
    ms,
    scaled,
    scaled_sqrt,
)
from sybilgraph.generate.ids import IpSpace, format_ipv4, format_ipv6, hex_strings, salted_keys
from sybilgraph.generate.sampling import ProfileSampler, allocate_counts

__all__ = [
    "HOUR_NAMES",
    "KIND_CAMPUS",
    "KIND_CONSUMER",
    "KIND_DEVELOPER",
    "KIND_FAKE",
    "KIND_HOUSEHOLD",
    "KIND_NAMES",
    "KIND_ORG",
    "MIX_NAMES",
    "MODEL_PROFILE_NAMES",
    "STATUS_NAMES",
    "Population",
    "build_population",
]

KIND_CONSUMER, KIND_HOUSEHOLD, KIND_ORG, KIND_CAMPUS, KIND_DEVELOPER, KIND_FAKE, KIND_CUSTOMER, KIND_TENANT = range(8)
KIND_NAMES = (
    "consumer", "household", "organisation", "campus", "developer", "distillation", "large_customer", "saas_tenant"
)
STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_CLOSED = range(3)
STATUS_NAMES = ("active", "suspended", "closed")
HOUR_NAMES: tuple[str, ...] = tuple(vocab.HOUR_PROFILES)
MIX_NAMES: tuple[str, ...] = tuple(vocab.MIXES)
MODEL_PROFILE_NAMES: tuple[str, ...] = tuple(vocab.MODEL_PROFILES)
ALL_BINS: tuple[str, ...] = (
    vocab.COMMON_BINS + vocab.PREPAID_BINS + vocab.VIRTUAL_BINS + vocab.MORE_PREPAID_BINS + vocab.MORE_VIRTUAL_BINS
)
_PREPAID0 = len(vocab.COMMON_BINS)
_VIRTUAL0 = _PREPAID0 + len(vocab.PREPAID_BINS)
_MORE0 = _VIRTUAL0 + len(vocab.VIRTUAL_BINS)
# BIN indices by issuer kind, for drawn worlds (classic keeps its fixed choices).
PREPAID_BIN_INDEX = np.concatenate(
    [np.arange(_PREPAID0, _VIRTUAL0), _MORE0 + np.arange(len(vocab.MORE_PREPAID_BINS))]
)
VIRTUAL_BIN_INDEX = np.concatenate(
    [np.arange(_VIRTUAL0, _MORE0), _MORE0 + len(vocab.MORE_PREPAID_BINS) + np.arange(len(vocab.MORE_VIRTUAL_BINS))]
)

# Namespaces of the salted keys behind identifiers (see ids.salted_keys).
NS_ACCOUNT, NS_DEVICE, NS_INSTRUMENT, NS_TEMPLATE, NS_API_KEY = 1, 2, 3, 4, 5


def hour_index(name: str) -> int:
    return HOUR_NAMES.index(name)


def mix_index(name: str) -> int:
    return MIX_NAMES.index(name)


def model_index(name: str) -> int:
    return MODEL_PROFILE_NAMES.index(name)


def profile_index(name: str) -> int:
    return vocab.browser_profile_index(name)


# Per-account columns: dtype and default. See Population for their meaning.
FIELDS: dict[str, tuple[type, float]] = {
    "kind": (np.int8, KIND_CONSUMER),
    "group": (np.int32, -1),  # index into Population.groups (true multi-account operator)
    "op": (np.int8, -1),  # index into OPERATORS for distillation accounts
    "created": (np.int64, 0),
    "start": (np.int64, 0),  # activity window [start, end), epoch ms
    "end": (np.int64, 0),
    "country": (np.int16, 0),
    "domain": (np.int32, 0),
    "status": (np.int8, STATUS_ACTIVE),
    "vol_pool": (np.int16, 0),  # volume budget the account draws from
    "vol_weight": (np.float64, 1.0),
    "hour_profile": (np.int8, 0),
    "tz": (np.int8, 0),
    "office": (np.bool_, False),
    "human": (np.bool_, True),  # activity clustered into sittings
    "sync": (np.bool_, False),  # requests snap to the operator's scheduler tick
    "mix": (np.int8, 0),
    "model_profile": (np.int8, 0),
    "in_shift": (np.float32, 0.0),  # log-shift of input / output tokens
    "out_shift": (np.float32, 0.0),
    "p_pop": (np.float32, 0.0),  # P(request uses a popular tool template)
    "p_group": (np.float32, 0.0),  # P(request uses the group's template pool)
    "p_personal": (np.float32, 0.0),  # P(request uses one of the account's own templates)
    "pool_start": (np.int32, 0),
    "pool_len": (np.int32, 0),
    "pool_window": (np.int32, 0),
    "pool_offset": (np.int32, 0),
    "pool_stride": (np.int32, 1),  # step through the pool: 1 = a window, else a scattered subset
    "personal_start": (np.int32, 0),
    "personal_len": (np.int32, 0),
    "p_web": (np.float32, 0.0),  # P(request made in the web app, without an API key)
    "ip_skew": (np.float32, 2.0),
    "n_keys": (np.int8, 1),
    "sess_extra": (np.float32, 2.0),  # mean number of sessions beyond the first
    # A row of these arrays is a *persona*: who controls an account over one stretch of its
    # life. Almost every account has one; a hijacked account has a second (the operator's,
    # from the takeover on) whose ``owner`` is the account's first persona.
    "owner": (np.int32, -1),  # -1: this persona is its account's first (primary) one
    "org": (np.int32, -1),  # the true organisation behind the persona (index into the world's), -1: none
}


@dataclass
class Population:
    """Everything the table writers need, as arrays. ``a`` holds the per-account columns."""

    seed: int
    scale: float
    a: dict[str, np.ndarray]
    account_id: pa.Array
    n_interactions: np.ndarray
    groups: list[str]
    group_is_distillation: list[bool]
    domains: list[str]
    ip_text: pa.Array
    ip_ptr: np.ndarray
    ip_flat: np.ndarray
    device_text: pa.Array
    device_ua: np.ndarray
    device_tls: np.ndarray
    dev_ptr: np.ndarray
    dev_flat: np.ndarray
    key_ptr: np.ndarray
    key_text: pa.Array
    template_fp: np.ndarray
    template_cat: np.ndarray
    popular_start: int
    popular_count: int
    popular_cdf: np.ndarray
    inst_account: np.ndarray
    inst_item: np.ndarray
    inst_added: np.ndarray
    inst_text: pa.Array
    inst_bin: np.ndarray
    inst_last4: np.ndarray
    inst_country: np.ndarray
    sync_phase_ms: int
    segments: dict[str, int] = field(default_factory=dict)
    tls_text: pa.Array = field(default_factory=lambda: pa.array(vocab.TLS_FINGERPRINTS, type=pa.string()))
    ua_text: pa.Array = field(default_factory=lambda: pa.array(vocab.USER_AGENTS, type=pa.string()))
    world: Any = None  # the drawn world (tradecraft.World) in random and family modes; None in classic

    @property
    def n(self) -> int:
        """Personas (rows of ``a``); equal to the number of accounts unless some were hijacked."""
        return len(self.n_interactions)

    @property
    def primary(self) -> np.ndarray:
        """Mask of each account's first persona (the one whose sign-up the accounts table shows)."""
        return self.a["owner"] < 0

    @property
    def account_of(self) -> np.ndarray:
        """The primary persona of every persona's account."""
        owner = self.a["owner"].astype(np.int64)
        return np.where(owner < 0, np.arange(self.n), owner)


class Builder:
    """Accumulates accounts, registries and account->identifier links segment by segment."""

    def __init__(self, seed: int, scale: float, rates: BenignRates = BENIGN) -> None:
        self.seed = seed
        self.scale = scale
        self.rates = rates
        # Interactions per volume pool; None = the classic fixed totals (see _volumes).
        self.pool_totals: dict[int, int] | None = None
        # TLS fingerprints and user agents beyond the fixed vocabulary (private clients).
        self.extra_tls: list[str] = []
        self.extra_ua: list[str] = []
        self.rng = np.random.default_rng([seed, 1])
        self.space = IpSpace(np.random.default_rng([seed, 2]))
        self.n = 0
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in FIELDS}
        self.ip_parts: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        self.n_ips = 0
        self.dev_ua: list[np.ndarray] = []
        self.dev_tls: list[np.ndarray] = []
        self.n_devs = 0
        self.inst_bin: list[np.ndarray] = []
        self.inst_country: list[np.ndarray] = []
        self.n_inst = 0
        self.tpl_cat: list[np.ndarray] = []
        self.n_tpl = 0
        self.links: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {"ip": [], "dev": [], "inst": []}
        self.domains: list[str] = []
        self._domain_pos: dict[str, int] = {}
        self.groups: list[str] = []
        self.group_dist: list[bool] = []
        self.home_v4: list[np.ndarray] = []
        self.segments: dict[str, int] = {}
        for d in vocab.WEBMAIL_DOMAINS + vocab.DISPOSABLE_DOMAINS:
            self.domain(d)
        self.mix_sampler = ProfileSampler(np.stack([vocab.MIXES[k] for k in MIX_NAMES]))

    # --- registries ---------------------------------------------------------------------

    def add_accounts(self, n: int, **cols: np.ndarray | float | int | bool) -> np.ndarray:
        unknown = set(cols) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown account fields {sorted(unknown)}")
        for name, (dtype, default) in FIELDS.items():
            value = cols.get(name, default)
            arr = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
            self.cols[name].append(arr)
        idx = np.arange(self.n, self.n + n)
        self.n += n
        return idx

    def column(self, name: str) -> np.ndarray:
        """One per-persona column over everything added so far (a copy)."""
        return np.concatenate(self.cols[name]) if self.cols[name] else np.empty(0, dtype=FIELDS[name][0])

    def update(self, name: str, idx: np.ndarray, values: np.ndarray | float | int) -> None:
        """Overwrite a column for personas ``idx`` (global indices, any batch)."""
        idx = np.asarray(idx, dtype=np.int64)
        values = np.broadcast_to(np.asarray(values), idx.shape)
        start = 0
        for chunk in self.cols[name]:
            sel = (idx >= start) & (idx < start + len(chunk))
            chunk[idx[sel] - start] = values[sel]
            start += len(chunk)

    def add_ipv4(self, addresses: np.ndarray) -> np.ndarray:
        self.ip_parts.append(("v4", np.asarray(addresses, dtype=np.uint32), None))
        return self._advance("n_ips", len(addresses))

    def add_ipv6(self, n: int) -> np.ndarray:
        high = (np.uint64(0x2A02) << np.uint64(48)) | self.rng.integers(0, 1 << 48, n, dtype=np.uint64)
        low = self.rng.integers(1, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
        self.ip_parts.append(("v6", high, low))
        return self._advance("n_ips", n)

    def add_devices(self, profile: np.ndarray) -> np.ndarray:
        profile = np.asarray(profile, dtype=np.int64)
        ua = np.empty(len(profile), dtype=np.int16)
        tls = np.empty(len(profile), dtype=np.int16)
        for p in np.unique(profile):
            sel = profile == p
            bp = vocab.BROWSER_PROFILES[p]
            ua[sel] = np.asarray(bp.user_agents)[self.rng.integers(0, len(bp.user_agents), sel.sum())]
            tls[sel] = bp.tls
        self.dev_ua.append(ua)
        self.dev_tls.append(tls)
        return self._advance("n_devs", len(profile))

    def add_client_devices(self, n: int, ua: int, tls: int) -> np.ndarray:
        """n devices of one client (cloned images or one automation stack): same UA and TLS."""
        self.dev_ua.append(np.full(n, ua, dtype=np.int16))
        self.dev_tls.append(np.full(n, tls, dtype=np.int16))
        return self._advance("n_devs", n)

    def private_client(self, tls_text: str, ua_text: str | None) -> tuple[int, int]:
        """Register a TLS fingerprint (and optionally a user agent) nobody else uses; returns
        (ua index, tls index) into the world's vocabulary."""
        self.extra_tls.append(tls_text)
        tls = len(vocab.TLS_FINGERPRINTS) + len(self.extra_tls) - 1
        if ua_text is None:
            return -1, tls
        self.extra_ua.append(ua_text)
        return len(vocab.USER_AGENTS) + len(self.extra_ua) - 1, tls

    def add_instruments(self, bin_index: np.ndarray, country: np.ndarray | None = None) -> np.ndarray:
        bin_index = np.asarray(bin_index, dtype=np.int16)
        if country is None:
            country = self._bin_country(bin_index)
        self.inst_bin.append(bin_index)
        self.inst_country.append(np.asarray(country, dtype=np.int16))
        return self._advance("n_inst", len(bin_index))

    def add_templates(self, category: np.ndarray) -> np.ndarray:
        self.tpl_cat.append(np.asarray(category, dtype=np.int8))
        return self._advance("n_tpl", len(category))

    def _advance(self, counter: str, n: int) -> np.ndarray:
        start = getattr(self, counter)
        setattr(self, counter, start + n)
        return np.arange(start, start + n)

    def domain(self, name: str) -> int:
        if name not in self._domain_pos:
            self._domain_pos[name] = len(self.domains)
            self.domains.append(name)
        return self._domain_pos[name]

    def add_groups(self, prefix: str, n: int, width: int, distillation: bool) -> np.ndarray:
        start = len(self.groups)
        existing = sum(1 for g in self.groups if g.startswith(prefix + "-"))
        for i in range(n):
            self.groups.append(f"{prefix}-{existing + i + 1:0{width}d}")
            self.group_dist.append(distillation)
        return np.arange(start, start + n)

    def add_named_group(self, name: str, distillation: bool) -> int:
        self.groups.append(name)
        self.group_dist.append(distillation)
        return len(self.groups) - 1

    def link(self, kind: str, acct: np.ndarray, item: np.ndarray, rank: np.ndarray | int) -> None:
        acct = np.asarray(acct, dtype=np.int64)
        rank_arr = np.broadcast_to(np.asarray(rank, dtype=np.int64), acct.shape).copy()
        self.links[kind].append((acct, np.asarray(item, dtype=np.int64), rank_arr))

    def _bin_country(self, bin_index: np.ndarray) -> np.ndarray:
        out = np.full(len(bin_index), vocab.country_index("US"), dtype=np.int16)
        common = bin_index < _PREPAID0
        out[common] = vocab.COMMON_BIN_COUNTRY[bin_index[common]]
        virtual = (bin_index >= _VIRTUAL0) & (bin_index < _MORE0)
        out[virtual] = vocab.VIRTUAL_BIN_COUNTRY[bin_index[virtual] - _VIRTUAL0]
        more = bin_index >= _MORE0
        out[more] = vocab.MORE_BIN_COUNTRY[bin_index[more] - _MORE0]
        return out

    # --- common draws ---------------------------------------------------------------------

    def countries(self, n: int) -> np.ndarray:
        return self.rng.choice(len(vocab.COUNTRIES), n, p=vocab.COUNTRY_WEIGHTS).astype(np.int16)

    def webmail(self, n: int, disposable_share: float = 0.0) -> np.ndarray:
        dom = self.rng.choice(len(vocab.WEBMAIL_DOMAINS), n, p=vocab.WEBMAIL_WEIGHTS)
        throwaway = self.rng.random(n) < disposable_share
        dom[throwaway] = len(vocab.WEBMAIL_DOMAINS) + self.rng.integers(
            0, len(vocab.DISPOSABLE_DOMAINS), throwaway.sum()
        )
        return dom.astype(np.int32)

    def made_up_domains(self, n: int, tlds: tuple[str, ...]) -> np.ndarray:
        """n new distinct domains made of syllables (organisations, campuses, operators)."""
        out = np.empty(n, dtype=np.int32)
        syl = vocab.SYLLABLES
        for i in range(n):
            while True:
                k = int(self.rng.integers(2, 4))
                name = "".join(syl[j] for j in self.rng.integers(0, len(syl), k))
                tld = tlds[int(self.rng.integers(0, len(tlds)))]
                dom = f"{name}.{tld}"
                if dom not in self._domain_pos:
                    break
            out[i] = self.domain(dom)
        return out

    def categories(self, mix: np.ndarray) -> np.ndarray:
        return self.mix_sampler.sample(self.rng, mix).astype(np.int8)

    def common_cards(self, acct: np.ndarray, added: np.ndarray) -> None:
        """One card per account from the big issuers (nobody shares it)."""
        bins = self.rng.choice(len(vocab.COMMON_BINS), len(acct), p=vocab.COMMON_BIN_WEIGHTS)
        inst = self.add_instruments(bins)
        self.link("inst", acct, inst, added)

    def human_devices(self, acct: np.ndarray, second_share: float = 0.4) -> np.ndarray:
        """A browser per person, and for some a phone; returns the primary device per account."""
        n = len(acct)
        primary = self.add_devices(self.rng.choice(len(vocab.BROWSER_PROFILES), n, p=vocab.HUMAN_BROWSER_WEIGHTS))
        self.link("dev", acct, primary, 0)
        second = self.rng.random(n) < second_share
        phone_profiles = np.array([profile_index("safari_ios"), profile_index("android_chrome"), profile_index("ios_app"), profile_index("android_app")])
        phones = self.add_devices(phone_profiles[self.rng.integers(0, 4, second.sum())])
        self.link("dev", acct[second], phones, 1)
        return primary

    def homes(self, n: int) -> np.ndarray:
        """Home lines (IPv4, some IPv6) as IP registry indices."""
        v6 = self.rng.random(n) < self.rates.ipv6_share
        out = np.empty(n, dtype=np.int64)
        v4_idx = self.add_ipv4(self.space.homes(int((~v6).sum())))
        out[~v6] = v4_idx
        out[v6] = self.add_ipv6(int(v6.sum()))
        self.home_v4.append(v4_idx)
        return out

    def pick_each(self, acct: np.ndarray, pool: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For account i, k[i] random items of ``pool`` (with replacement; duplicates merge)."""
        rep = np.repeat(acct, k)
        j = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
        return rep, pool[self.rng.integers(0, len(pool), len(rep))], j

    def lognormal(self, n: int, sigma: float) -> np.ndarray:
        return self.rng.lognormal(0.0, sigma, n)


# --- lifecycles ------------------------------------------------------------------------------


def benign_lifecycle(b: Builder, n: int) -> dict[str, np.ndarray]:
    """created_at, activity window and status of benign accounts."""
    r = b.rng
    old = r.random(n) < 0.7
    t0, t1, t2 = ms("2023-01-01"), BENIGN_START, ms("2026-06-25")
    # Sign-ups grow over time: density rising linearly (sqrt of a uniform).
    created = np.where(
        old,
        t0 + (np.sqrt(r.random(n)) * (t1 - t0)).astype(np.int64),
        t1 + (r.random(n) * (t2 - t1)).astype(np.int64),
    )
    start = np.maximum(created + (r.random(n) * 2 * HOUR_MS).astype(np.int64), BENIGN_START)
    end = np.full(n, BENIGN_END, dtype=np.int64)
    status = np.full(n, STATUS_ACTIVE, dtype=np.int8)
    churn = r.random(n) < b.rates.churn_share
    end[churn] = np.minimum(start[churn] + r.integers(3, 121, churn.sum()) * DAY_MS, BENIGN_END)
    closed = churn & (r.random(n) < b.rates.closed_share / b.rates.churn_share)
    status[closed] = STATUS_CLOSED
    suspended = ~churn & (r.random(n) < b.rates.suspended_share)
    end[suspended] = start[suspended] + (
        (end[suspended] - start[suspended]) * r.uniform(0.2, 0.9, suspended.sum())
    ).astype(np.int64)
    status[suspended] = STATUS_SUSPENDED
    end = np.maximum(end, np.minimum(start + DAY_MS, BENIGN_END))
    return {"created": created, "start": start, "end": end, "status": status}


def person_columns(
    b: Builder, n: int, country: np.ndarray, mix: str, hour: str | None = None
) -> dict[str, np.ndarray | float | int | bool]:
    """Behaviour of a person using the product by hand (web app, a few tools)."""
    r = b.rng
    if hour is None:
        hour_profile = np.where(r.random(n) < 0.85, hour_index("diurnal"), hour_index("night_owl"))
    else:
        hour_profile = np.full(n, hour_index(hour))
    tool_user = r.random(n) < b.rates.tool_user_share
    weight = b.lognormal(n, 1.2) * (r.random(n) >= b.rates.zero_activity_share)
    return {
        "country": country,
        "tz": vocab.COUNTRY_TZ[country] + r.integers(-1, 2, n),
        "hour_profile": hour_profile,
        "human": True,
        "mix": mix_index(mix),
        "model_profile": model_index("consumer"),
        "p_pop": np.where(tool_user, r.beta(2.0, 4.0, n), 0.0),
        "p_web": 0.9,
        "ip_skew": 2.5,
        "vol_weight": weight,
        "sess_extra": 2.0,
        **benign_lifecycle(b, n),
    }


def personal_templates(b: Builder, acct: np.ndarray, count: np.ndarray, mix: int) -> tuple[np.ndarray, np.ndarray]:
    """Templates only this account uses; returns (personal_start, personal_len) per account."""
    rep = np.repeat(np.arange(len(acct)), count)
    tpl = b.add_templates(b.categories(np.full(len(rep), mix)))
    starts = np.zeros(len(acct), dtype=np.int64)
    if len(tpl):
        first = np.cumsum(count) - count
        starts = tpl[0] + first
    return starts, count


def add_roaming(b: Builder, acct: np.ndarray, country: np.ndarray, rank0: int, infra: Infra) -> None:
    """Mobile-carrier NAT and commercial VPN exits on top of a person's own lines."""
    r = b.rng
    for c, exits in infra.carrier_exits.items():
        users = acct[(country == c) & (r.random(len(acct)) < b.rates.mobile_share)]
        rep, ips, j = b.pick_each(users, exits, r.integers(2, 5, len(users)))
        b.link("ip", rep, ips, rank0 + j)
    vpn = acct[r.random(len(acct)) < b.rates.vpn_share]
    provider = r.integers(0, len(infra.vpn_exits), len(vpn))
    for p, exits in enumerate(infra.vpn_exits):
        users = vpn[provider == p]
        rep, ips, j = b.pick_each(users, exits, r.integers(2, 6, len(users)))
        b.link("ip", rep, ips, rank0 + 5 + j)


@dataclass
class Infra:
    """Shared network infrastructure: carrier NAT exits and VPN exits (IP registry indices),
    and the /24 networks they live in (uint32 of the .0 address)."""

    carrier_exits: dict[int, np.ndarray]
    vpn_exits: list[np.ndarray]
    carrier_nets: dict[int, int] = field(default_factory=dict)
    vpn_nets: list[np.ndarray] = field(default_factory=list)


@dataclass
class Sites:
    """Campuses or organisations as added: per site its mail domain, /24 network, country, the
    group it forms in truth (-1: strangers), and its members (an index range of accounts)."""

    domain: np.ndarray
    net: np.ndarray
    country: np.ndarray
    group: np.ndarray
    university: np.ndarray
    first: int
    sizes: np.ndarray

    def members(self, i: int) -> np.ndarray:
        start = self.first + int(self.sizes[:i].sum())
        return np.arange(start, start + int(self.sizes[i]))


def build_infra(b: Builder) -> Infra:
    carriers: dict[int, np.ndarray] = {}
    carrier_nets: dict[int, int] = {}
    vpn_nets: list[np.ndarray] = []
    n_exits = scaled_sqrt(b.rates.carrier_exits_at_one, b.scale, 4)
    for code in b.rates.carrier_countries:
        block = b.space.blocks(1)
        addr, _ = b.space.hosts(block, np.array([n_exits]))
        carriers[vocab.country_index(code)] = b.add_ipv4(addr)
        carrier_nets[vocab.country_index(code)] = int(block[0])
    vpn: list[np.ndarray] = []
    per_provider = scaled_sqrt(b.rates.vpn_exits_at_one, b.scale, 3)
    for _ in range(b.rates.vpn_providers):
        blocks = b.space.blocks(2)
        counts = np.array([(per_provider + 1) // 2, per_provider // 2])
        addr, _ = b.space.hosts(blocks, counts)
        vpn.append(b.add_ipv4(addr))
        vpn_nets.append(blocks)
    return Infra(carriers, vpn, carrier_nets, vpn_nets)


# --- benign segments -------------------------------------------------------------------------


def add_popular_templates(b: Builder) -> tuple[int, np.ndarray]:
    """Templates of common tools (IDE plugins, browser extensions, chat front-ends)."""
    n = b.rates.popular_templates
    mix = np.where(b.rng.random(n) < 0.6, mix_index("consumer"), mix_index("developer"))
    idx = b.add_templates(b.categories(mix))
    ranks = np.arange(1, n + 1, dtype=np.float64)
    w = ranks**-b.rates.popular_zipf
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return int(idx[0]), cdf


def add_consumers(b: Builder, n: int, infra: Infra) -> None:
    country = b.countries(n)
    cols = person_columns(b, n, country, "consumer")
    acct = b.add_accounts(n, kind=KIND_CONSUMER, domain=b.webmail(n, 0.01), **cols)
    r = b.rng
    home = b.homes(n)
    mobile_only = np.isin(country, list(infra.carrier_exits)) & (
        r.random(n) < b.rates.mobile_share * b.rates.mobile_only_share
    )
    b.link("ip", acct[~mobile_only], home[~mobile_only], 0)
    # Mobile-only people: their carrier's exits are all they have.
    for c, exits in infra.carrier_exits.items():
        users = acct[mobile_only & (country == c)]
        rep, ips, j = b.pick_each(users, exits, r.integers(2, 5, len(users)))
        b.link("ip", rep, ips, j)
    add_roaming(b, acct[~mobile_only], country[~mobile_only], 1, infra)
    b.human_devices(acct)
    card = r.random(n) < b.rates.card_share
    b.common_cards(acct[card], b.cols["created"][-1][card] + r.integers(0, 30 * DAY_MS, card.sum()))
    has_tpl = r.random(n) < 0.25
    count = np.where(has_tpl, r.integers(1, 3, n), 0)
    pstart, plen = personal_templates(b, acct, count, mix_index("consumer"))
    set_columns(b, acct, personal_start=pstart, personal_len=plen, p_personal=np.where(has_tpl, 0.15, 0.0))
    b.segments["consumers"] = n


def set_columns(b: Builder, acct: np.ndarray, **cols: np.ndarray | float) -> None:
    """Overwrite columns of accounts added in the most recent add_accounts call."""
    base = b.n - len(b.cols["kind"][-1])
    for name, value in cols.items():
        b.cols[name][-1][acct - base] = value


def add_households(b: Builder, budget: int, infra: Infra) -> None:
    """2-5 people behind one home line; some share a card or the family computer."""
    r = b.rng
    sizes = fill_budget(lambda k: r.choice([2, 3, 4, 5], k, p=b.rates.household_sizes), budget, 2)
    n_hh, n = len(sizes), int(sizes.sum())
    hh = np.repeat(np.arange(n_hh), sizes)
    first = np.cumsum(sizes) - sizes
    member_no = np.arange(n) - first[hh]
    hh_country = b.countries(n_hh)
    groups = b.add_groups("HH", n_hh, 6, distillation=False)
    family_mail = b.webmail(n_hh)
    domain = np.where(r.random(n) < 0.5, family_mail[hh], b.webmail(n))
    cols = person_columns(b, n, hh_country[hh], "consumer")
    cols["tz"] = (vocab.COUNTRY_TZ[hh_country] + r.integers(-1, 2, n_hh))[hh]
    acct = b.add_accounts(n, kind=KIND_HOUSEHOLD, group=groups[hh], domain=domain, **cols)
    home = b.homes(n_hh)
    b.link("ip", acct, home[hh], 0)
    add_roaming(b, acct, hh_country[hh], 1, infra)
    b.human_devices(acct)
    family_pc = r.random(n_hh) < b.rates.household_device_share
    pc = b.add_devices(np.full(int(family_pc.sum()), profile_index("chrome_win")))
    pc_of = np.full(n_hh, -1)
    pc_of[family_pc] = pc
    uses_pc = family_pc[hh] & ((member_no < 2) | (r.random(n) < 0.6))
    b.link("dev", acct[uses_pc], pc_of[hh][uses_pc], 2)
    created = b.cols["created"][-1]
    shared = r.random(n_hh) < b.rates.household_card_share
    card = b.add_instruments(r.choice(len(vocab.COMMON_BINS), int(shared.sum()), p=vocab.COMMON_BIN_WEIGHTS))
    card_of = np.full(n_hh, -1)
    card_of[shared] = card
    on_shared = shared[hh] & ((member_no < 2) | (r.random(n) < 0.75))
    b.link(
        "inst",
        acct[on_shared],
        card_of[hh][on_shared],
        created[on_shared] + r.integers(0, 10 * DAY_MS, on_shared.sum()),
    )
    own = ~on_shared & (r.random(n) < b.rates.card_share)
    b.common_cards(acct[own], created[own] + r.integers(0, 30 * DAY_MS, own.sum()))
    b.segments["households"] = n_hh
    b.segments["household_accounts"] = n


def fill_budget(draw: Callable[[int], np.ndarray], budget: int, smallest: int) -> np.ndarray:
    """Group sizes drawn until they cover ``budget`` accounts; the last group is trimmed (or
    dropped when trimming would make it smaller than ``smallest``)."""
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < budget:
        sizes = np.concatenate([sizes, np.asarray(draw(max(8, budget // 4)), dtype=np.int64)])
    cut = int(np.searchsorted(np.cumsum(sizes), budget)) + 1
    sizes = sizes[:cut].copy()
    sizes[-1] -= int(sizes.sum()) - budget
    if sizes[-1] < smallest and len(sizes) > 1:
        sizes = sizes[:-1]  # the few accounts left over become standalone consumers
    return sizes


def add_campuses(b: Builder, budget: int, infra: Infra) -> Sites:
    """Strangers behind a handful of NAT IPs: universities (many with the campus mail domain)
    and co-working spaces."""
    r = b.rng
    lo, hi = b.rates.campus_size_range
    lo_s, hi_s = max(25, int(lo * b.scale)), max(40, int(hi * b.scale))
    hi_s = max(lo_s + 1, min(hi_s, budget // 2))
    sizes = fill_budget(lambda k: r.integers(lo_s, hi_s + 1, k), budget, 10)
    n_c, n = len(sizes), int(sizes.sum())
    campus = np.repeat(np.arange(n_c), sizes)
    is_uni = r.random(n_c) < 0.7
    c_country = b.countries(n_c)
    c_domain = b.made_up_domains(n_c, ("edu", "ac.uk", "edu.au", "uni.de"))
    uses_campus_mail = is_uni[campus] & (r.random(n) < 0.6)
    domain = np.where(uses_campus_mail, c_domain[campus], b.webmail(n))
    cols = person_columns(b, n, c_country[campus], "consumer")
    cols["mix"] = np.where(is_uni[campus], mix_index("student"), mix_index("worker"))
    cols["hour_profile"] = np.where(is_uni[campus], hour_index("diurnal"), hour_index("office"))
    cols["office"] = ~is_uni[campus]
    cols["ip_skew"] = 1.5
    acct = b.add_accounts(n, kind=KIND_CAMPUS, domain=domain, **cols)
    n_ips = r.integers(b.rates.campus_ips_range[0], b.rates.campus_ips_range[1] + 1, n_c)
    nets = b.space.blocks(n_c)
    addr, _ = b.space.hosts(nets, n_ips)
    ip_idx = b.add_ipv4(addr)
    ptr = np.concatenate([[0], np.cumsum(n_ips)])
    rep, items, j = expand_links(acct, campus, ptr, ip_idx)
    b.link("ip", rep, items, j)
    home = r.random(n) < 0.6
    b.link("ip", acct[home], b.homes(int(home.sum())), 10)
    add_roaming(b, acct, c_country[campus], 11, infra)
    b.human_devices(acct)
    card = r.random(n) < 0.4
    b.common_cards(acct[card], b.cols["created"][-1][card] + r.integers(0, 30 * DAY_MS, card.sum()))
    b.segments["campuses"] = n_c
    b.segments["campus_accounts"] = n
    return Sites(c_domain, nets, c_country, np.full(n_c, -1), is_uni, int(acct[0]), sizes)


def expand_links(
    acct: np.ndarray, group_of: np.ndarray, ptr: np.ndarray, flat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Link every account to every item of its group's list; returns (account, item, position)."""
    counts = ptr[group_of + 1] - ptr[group_of]
    rep = np.repeat(acct, counts)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rep, flat[np.repeat(ptr[group_of], counts) + j], j


def add_orgs(b: Builder, budget: int, infra: Infra) -> Sites:
    """Legitimate organisations: 5-200 seats on a corporate card, office IPs, one mail domain,
    and internal tools whose prompt templates every employee sends."""
    r = b.rng
    lo, hi = b.rates.org_min_size, b.rates.org_max_size
    cap = max(lo, min(hi, budget // 3))
    support = np.arange(lo, cap + 1)
    p = support.astype(np.float64) ** -b.rates.org_size_exponent
    sizes = fill_budget(lambda k: r.choice(support, k, p=p / p.sum()), budget, lo)
    n_o, n = len(sizes), int(sizes.sum())
    org = np.repeat(np.arange(n_o), sizes)
    o_country = b.countries(n_o)
    o_domain = b.made_up_domains(n_o, ("com", "io", "co", "net", "ai", "de", "co.uk"))
    groups = b.add_groups("ORG", n_o, 4, distillation=False)
    domain = np.where(r.random(n) < b.rates.org_domain_coverage, o_domain[org], b.webmail(n))
    cols = person_columns(b, n, o_country[org], "worker", hour="office")
    cols["tz"] = vocab.COUNTRY_TZ[o_country][org]
    cols["office"] = True
    cols["model_profile"] = model_index("worker")
    cols["p_web"] = 0.5
    cols["ip_skew"] = 1.5
    cols["vol_weight"] = cols["vol_weight"] * 2.0
    # Internal tool templates: a pool per organisation that all members draw from.
    n_tpl = 5 + sizes // 10
    tpl = b.add_templates(b.categories(np.full(int(n_tpl.sum()), mix_index("worker"))))
    tpl_start = tpl[0] + np.cumsum(n_tpl) - n_tpl
    cols.update(
        p_group=np.where(r.random(n) < 0.9, 0.3, 0.0),
        pool_start=tpl_start[org],
        pool_len=n_tpl[org],
        pool_window=n_tpl[org],
        pool_offset=0,
        p_pop=np.minimum(cols["p_pop"], 0.2),
    )
    acct = b.add_accounts(n, kind=KIND_ORG, group=groups[org], domain=domain, **cols)
    n_ips = r.integers(1, 5, n_o)
    nets = b.space.blocks(n_o)
    addr, _ = b.space.hosts(nets, n_ips)
    ip_idx = b.add_ipv4(addr)
    rep, items, j = expand_links(acct, org, np.concatenate([[0], np.cumsum(n_ips)]), ip_idx)
    b.link("ip", rep, items, j)
    remote = r.random(n) < 0.5
    b.link("ip", acct[remote], b.homes(int(remote.sum())), 5)
    add_roaming(b, acct[remote], o_country[org][remote], 6, infra)
    laptops = b.add_devices(np.where(r.random(n) < 0.6, profile_index("chrome_win"), profile_index("edge_win")))
    b.link("dev", acct, laptops, 0)
    phone = r.random(n) < 0.3
    b.link("dev", acct[phone], b.add_devices(np.full(int(phone.sum()), profile_index("safari_ios"))), 1)
    n_cards = 1 + (sizes >= 50) + (sizes >= 150)
    cards = b.add_instruments(r.choice(len(vocab.COMMON_BINS), int(n_cards.sum()), p=vocab.COMMON_BIN_WEIGHTS))
    card_start = np.cumsum(n_cards) - n_cards
    covered = r.random(n) < b.rates.org_card_coverage
    which = cards[card_start[org] + (r.random(n) * n_cards[org]).astype(np.int64)]
    created = b.cols["created"][-1]
    b.link("inst", acct[covered], which[covered], created[covered] + r.integers(0, 3 * DAY_MS, covered.sum()))
    b.segments["organisations"] = n_o
    b.segments["organisation_accounts"] = n
    return Sites(o_domain, nets, o_country, groups, np.zeros(n_o, dtype=bool), int(acct[0]), sizes)


def add_developers(b: Builder, n: int) -> None:
    """Single heavy API users: their own templates, servers in the cloud, automation running
    round the clock — volume and timing like an operator, but one account each."""
    r = b.rng
    country = b.countries(n)
    personal_domain = r.random(n) < 0.3
    domain = b.webmail(n)
    domain[personal_domain] = b.made_up_domains(int(personal_domain.sum()), ("dev", "io", "me", "net"))
    life = benign_lifecycle(b, n)
    acct = b.add_accounts(
        n,
        kind=KIND_DEVELOPER,
        country=country,
        domain=domain,
        tz=vocab.COUNTRY_TZ[country],
        hour_profile=np.where(r.random(n) < 0.7, hour_index("automation"), hour_index("flat")),
        human=False,
        mix=mix_index("developer"),
        model_profile=model_index("developer"),
        p_pop=0.1,
        p_personal=0.65,
        p_web=0.03,
        ip_skew=1.5,
        n_keys=r.integers(2, 6, n),
        vol_pool=1,
        vol_weight=b.lognormal(n, 0.9),
        sess_extra=4.0,
        **life,
    )
    n_srv = r.integers(1, 4, n)
    servers = b.add_ipv4(b.space.cloud(int(n_srv.sum())))
    rep = np.repeat(acct, n_srv)
    b.link("ip", rep, servers, np.arange(len(rep)) - np.repeat(np.cumsum(n_srv) - n_srv, n_srv))
    b.link("ip", acct, b.homes(n), 4)
    client = r.choice(
        [
            profile_index("python_requests"),
            profile_index("python_httpx"),
            profile_index("vendor_sdk"),
            profile_index("node"),
            profile_index("go"),
            profile_index("curl"),
            profile_index("headless_chrome"),
        ],
        n,
        p=[0.33, 0.2, 0.2, 0.15, 0.05, 0.04, 0.03],
    )
    b.link("dev", acct, b.add_devices(client), 0)
    b.human_devices(acct, second_share=0.2)
    b.common_cards(acct, life["created"] + r.integers(0, 5 * DAY_MS, n))
    pstart, plen = personal_templates(b, acct, r.integers(5, 31, n), mix_index("developer"))
    set_columns(b, acct, personal_start=pstart, personal_len=plen)
    b.segments["developers"] = n


# --- distillation operators ------------------------------------------------------------------


def bursts(b: Builder, n: int, n_bursts: int, first: str, last: str, spread_h: float) -> np.ndarray:
    """Creation times of accounts registered in bursts (seconds to minutes apart)."""
    t = np.sort(b.rng.integers(ms(first), ms(last), n_bursts))
    which = b.rng.integers(0, n_bursts, n)
    return t[which] + (b.rng.random(n) * spread_h * HOUR_MS).astype(np.int64)


def _aged(b: Builder, n: int, first: str, last: str) -> np.ndarray:
    """Creation times of accounts registered (or bought) long before use."""
    return b.rng.integers(ms(first), ms(last), n)


def _fake_window(
    b: Builder, created: np.ndarray, rotate_days: tuple[int, int] | None, suspended_share: float
) -> dict[str, np.ndarray]:
    r = b.rng
    n = len(created)
    ramp = (r.random(n) * 3 * DAY_MS).astype(np.int64)
    warmup = r.integers(HOUR_MS, DAY_MS, n)
    start = np.maximum(created + warmup, CAMPAIGN_START + ramp)
    start = np.minimum(start, CAMPAIGN_END - DAY_MS)
    if rotate_days is None:
        end = CAMPAIGN_END - (r.random(n) * 12 * HOUR_MS).astype(np.int64)
    else:
        end = start + r.integers(rotate_days[0], rotate_days[1] + 1, n) * DAY_MS
    end = np.clip(end, start + DAY_MS // 2, CAMPAIGN_END)
    status = np.full(n, STATUS_ACTIVE, dtype=np.int8)
    suspended = r.random(n) < suspended_share
    end[suspended] = start[suspended] + (
        (end[suspended] - start[suspended]) * r.uniform(0.3, 0.95, suspended.sum())
    ).astype(np.int64)
    status[suspended] = STATUS_SUSPENDED
    if (start < created).any():
        raise AssertionError("operator account active before it was created")
    return {"created": created, "start": start, "end": end, "status": status}


def _country_mix(b: Builder, n: int, shares: dict[str, float]) -> np.ndarray:
    codes = list(shares)
    p = np.array([shares[c] for c in codes])
    pick = b.rng.choice(len(codes), n, p=p / p.sum())
    return np.array([vocab.country_index(c) for c in codes], dtype=np.int16)[pick]


def _operator_accounts(
    b: Builder, op: int, spec: OperatorSpec, life: dict[str, np.ndarray], country: np.ndarray, domain: np.ndarray
) -> np.ndarray:
    """Accounts of one operator with its workload: template pool, mix, schedule, volume."""
    r = b.rng
    n = len(country)
    pool = scaled_sqrt(spec.template_pool_at_one, b.scale, 2 * spec.template_window)
    tpl = b.add_templates(b.categories(np.full(pool, mix_index(spec.mix))))
    group = b.add_named_group(spec.truth, distillation=True)
    return b.add_accounts(
        n,
        kind=KIND_FAKE,
        group=group,
        op=op,
        country=country,
        domain=domain,
        hour_profile=hour_index(spec.hour_profile),
        tz=spec.tz,
        human=False,
        sync=spec.key == "osprey",
        mix=mix_index(spec.mix),
        model_profile=model_index("distiller"),
        in_shift=r.normal(0.3, 0.1, n),
        out_shift=r.normal(1.0, 0.15, n),
        p_pop=spec.p_popular,
        p_group=spec.p_pool,
        pool_start=int(tpl[0]),
        pool_len=pool,
        pool_window=min(spec.template_window, pool),
        pool_offset=r.integers(0, pool, n),
        p_web=0.0,
        ip_skew=1.0,
        n_keys=r.integers(1, 3, n),
        vol_pool=2 + op,
        vol_weight=b.lognormal(n, 0.5),
        sess_extra=1.0,
        **life,
    )


def _op_kestrel(b: Builder, op: int, spec: OperatorSpec, n: int) -> None:
    r = b.rng
    created = bursts(b, n, 12, "2026-04-08", "2026-05-25", 3.0)
    life = _fake_window(b, created, (7, 28), spec.suspended_share)
    country = _country_mix(b, n, {"US": 45, "GB": 10, "CA": 10, "DE": 10, "AU": 8, "FR": 7, "NL": 5, "SE": 5})
    acct = _operator_accounts(b, op, spec, life, country, b.webmail(n, 0.2))
    # Prepaid cards, each loaded onto 10-50 accounts.
    n_cards = max(2, round(n / 28))
    cards = b.add_instruments(_PREPAID0 + r.integers(0, 2, n_cards))
    b.link("inst", acct, cards[r.integers(0, n_cards, n)], created + r.integers(10 * 60_000, 3 * HOUR_MS, n))
    # Rotating residential proxies: ~4 of its accounts per exit; some exits are real homes.
    k = r.integers(8, 21, n)
    pool_size = max(20, int(k.sum()) // 4)
    n_real = int(0.08 * pool_size)
    real_homes = np.concatenate(b.home_v4)
    pool = np.concatenate(
        [
            real_homes[r.integers(0, len(real_homes), n_real)],
            b.add_ipv4(b.space.homes(pool_size - n_real)),
        ]
    )
    rep, ips, j = b.pick_each(acct, pool, k)
    b.link("ip", rep, ips, j)
    # Anti-detect browser: a fresh "desktop Chrome" fingerprint per account.
    b.link("dev", acct, b.add_devices(np.full(n, profile_index("chrome_win"))), 0)


def _op_heron(b: Builder, op: int, spec: OperatorSpec, n: int) -> None:
    r = b.rng
    created = bursts(b, n, 4, "2026-04-10", "2026-04-20", 2.0)
    life = _fake_window(b, created, None, spec.suspended_share)
    country = _country_mix(b, n, {"US": 70, "DE": 15, "SG": 15})
    own = b.made_up_domains(scaled_sqrt(5, b.scale, 2), ("com", "net", "email"))
    domain = np.where(r.random(n) < 0.85, own[r.integers(0, len(own), n)], b.webmail(n))
    acct = _operator_accounts(b, op, spec, life, country, domain)
    # One virtual card per account, all from three BINs.
    cards = b.add_instruments(_VIRTUAL0 + r.integers(0, 3, n))
    b.link("inst", acct, cards, created + r.integers(60_000, HOUR_MS, n))
    # Datacenter IPs in a few /24 subnets.
    n_blocks = scaled_sqrt(4, b.scale, 2)
    addr, _ = b.space.hosts(b.space.blocks(n_blocks), np.full(n_blocks, 200))
    pool = b.add_ipv4(addr)
    rep, ips, j = b.pick_each(acct, pool, r.integers(2, 7, n))
    b.link("ip", rep, ips, j)
    set_columns(b, acct, ip_skew=1.5)
    # Cloned VM images: a dozen device fingerprints for the whole operation.
    images = b.add_devices(np.full(scaled_sqrt(12, b.scale, 3), profile_index("headless_chrome")))
    b.link("dev", acct, images[r.integers(0, len(images), n)], 0)
    second = r.random(n) < 0.2
    b.link("dev", acct[second], images[r.integers(0, len(images), second.sum())], 1)


def _op_osprey(b: Builder, op: int, spec: OperatorSpec, n: int) -> None:
    r = b.rng
    created = _aged(b, n, "2025-06-01", "2026-01-01")
    life = _fake_window(b, created, None, spec.suspended_share)
    acct = _operator_accounts(b, op, spec, life, b.countries(n), b.webmail(n))
    # Nothing shared: own card from a big issuer, own fresh residential lines, own device.
    b.common_cards(acct, created + r.integers(DAY_MS, 20 * DAY_MS, n))
    k = r.integers(1, 4, n)
    rep = np.repeat(acct, k)
    b.link("ip", rep, b.add_ipv4(b.space.homes(int(k.sum()))), np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k))
    b.link("dev", acct, b.add_devices(np.full(n, profile_index("careful_harvester"))), 0)
    set_columns(b, acct, ip_skew=2.0)


def _op_marlin(b: Builder, op: int, spec: OperatorSpec, n: int, infra: Infra) -> None:
    r = b.rng
    created = bursts(b, n, 6, "2026-04-15", "2026-05-20", 1.0)
    life = _fake_window(b, created, None, spec.suspended_share)
    us = vocab.country_index("US")
    acct = _operator_accounts(b, op, spec, life, np.full(n, us, dtype=np.int16), b.webmail(n))
    # The same carrier NAT exits as thousands of benign phone users.
    rep, ips, j = b.pick_each(acct, infra.carrier_exits[us], r.integers(3, 7, n))
    b.link("ip", rep, ips, j)
    # Emulator farm: each emulated phone carries ~10 accounts.
    phones = b.add_devices(np.full(max(3, round(n / 10)), profile_index("android_app")))
    b.link("dev", acct, phones[r.integers(0, len(phones), n)], 0)
    second = r.random(n) < 0.3
    b.link("dev", acct[second], phones[r.integers(0, len(phones), second.sum())], 1)
    # Prepaid cards on 3-8 accounts each.
    n_cards = max(2, round(n / 5))
    cards = b.add_instruments(_PREPAID0 + 2 + r.integers(0, 2, n_cards))
    b.link("inst", acct, cards[r.integers(0, n_cards, n)], created + r.integers(60_000, 6 * HOUR_MS, n))


def _op_plover(b: Builder, op: int, spec: OperatorSpec, n: int, infra: Infra) -> None:
    r = b.rng
    aged = r.random(n) < 0.5
    created = np.where(aged, _aged(b, n, "2025-10-01", "2026-02-15"), bursts(b, n, 3, "2026-04-18", "2026-05-10", 2.0))
    life = _fake_window(b, created, None, spec.suspended_share)
    acct = _operator_accounts(b, op, spec, life, b.countries(n), b.webmail(n, 0.3))
    # Half behind a commercial VPN (exits shared with benign users), half on two DC /24s.
    via_vpn = r.random(n) < 0.5
    both = r.random(n) < 0.2
    users = acct[via_vpn | both]
    rep, ips, j = b.pick_each(users, infra.vpn_exits[0], r.integers(3, 7, len(users)))
    b.link("ip", rep, ips, j)
    addr, _ = b.space.hosts(b.space.blocks(2), np.array([120, 120]))
    dc = b.add_ipv4(addr)
    users = acct[~via_vpn | both]
    rep, ips, j = b.pick_each(users, dc, r.integers(2, 5, len(users)))
    b.link("ip", rep, ips, 10 + j)
    b.link("dev", acct, b.add_devices(np.full(n, profile_index("python_httpx"))), 0)
    # 60% on prepaid cards shared by ~5 accounts, the rest on their own virtual cards.
    prepaid = r.random(n) < 0.6
    n_cards = max(2, round(prepaid.sum() / 5))
    cards = b.add_instruments(_PREPAID0 + 1 + np.zeros(n_cards, dtype=np.int64))
    b.link("inst", acct[prepaid], cards[r.integers(0, n_cards, prepaid.sum())], created[prepaid] + HOUR_MS)
    virtual = b.add_instruments(_VIRTUAL0 + 3 + r.integers(0, 3, int((~prepaid).sum())))
    b.link("inst", acct[~prepaid], virtual, created[~prepaid] + HOUR_MS)


# --- assembly --------------------------------------------------------------------------------


def _csr(
    n_accounts: int, links: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deduplicated account -> items lists ordered by rank: (ptr, items, rank)."""
    acct = np.concatenate([link[0] for link in links])
    item = np.concatenate([link[1] for link in links])
    rank = np.concatenate([link[2] for link in links])
    order = np.lexsort((rank, item, acct))
    acct, item, rank = acct[order], item[order], rank[order]
    first = np.ones(len(acct), dtype=bool)
    first[1:] = (acct[1:] != acct[:-1]) | (item[1:] != item[:-1])
    acct, item, rank = acct[first], item[first], rank[first]
    order = np.lexsort((item, rank, acct))
    acct, item, rank = acct[order], item[order], rank[order]
    ptr = np.zeros(n_accounts + 1, dtype=np.int64)
    np.cumsum(np.bincount(acct, minlength=n_accounts), out=ptr[1:])
    return ptr, item, rank


def _ip_text(b: Builder) -> pa.Array:
    parts: list[pa.Array] = []
    for kind, first, second in b.ip_parts:
        if kind == "v4":
            parts.append(format_ipv4(first))
        else:
            assert second is not None
            parts.append(pa.array(format_ipv6(first, second), type=pa.string()))
    return pa.concat_arrays(parts)


def _volumes(a: dict[str, np.ndarray], scale: float, pool_totals: dict[int, int] | None) -> np.ndarray:
    """Interactions per account: each volume pool shares out its total by weight. Without
    ``pool_totals`` the pools are the classic ones (benign people, developers, each operator)."""
    n_int = np.zeros(len(a["kind"]), dtype=np.int64)
    if pool_totals is not None:
        for pool, total in pool_totals.items():
            sel = a["vol_pool"] == pool
            n_int[sel] = allocate_counts(a["vol_weight"][sel], total)
        return n_int
    benign_total = round(BENIGN.interactions * scale)
    dev_total = round(benign_total * BENIGN.developer_volume_share)
    intensity = np.array([s.accounts_at_one * s.intensity for s in OPERATORS])
    op_totals = allocate_counts(intensity, round(FAKE_INTERACTIONS_AT_ONE * scale))
    totals = {0: benign_total - dev_total, 1: dev_total}
    for i, total in enumerate(op_totals):
        totals[2 + i] = int(total)
    for pool, total in totals.items():
        sel = a["vol_pool"] == pool
        n_int[sel] = allocate_counts(a["vol_weight"][sel], total)
    return n_int


def build_population(seed: int, scale: float) -> Population:
    """Draw the whole population for (seed, scale). Deterministic."""
    b = Builder(seed, scale)
    infra = build_infra(b)
    popular_start, popular_cdf = add_popular_templates(b)
    n_benign = scaled(BENIGN.accounts, scale, 1000)
    hh_budget = scaled(BENIGN.accounts * BENIGN.household_share, scale, 30)
    org_budget = scaled(BENIGN.accounts * BENIGN.org_share, scale, 30)
    campus_budget = scaled(BENIGN.accounts * BENIGN.campus_share, scale, 60)
    n_dev = scaled(BENIGN.accounts * BENIGN.developer_share, scale, 8)
    add_households(b, hh_budget, infra)
    add_campuses(b, campus_budget, infra)
    add_orgs(b, org_budget, infra)
    add_developers(b, n_dev)
    add_consumers(b, n_benign - b.n, infra)  # standalone people fill the benign total exactly
    for op, spec in enumerate(OPERATORS):
        n = scaled(spec.accounts_at_one, scale, 20)
        if spec.key == "kestrel":
            _op_kestrel(b, op, spec, n)
        elif spec.key == "heron":
            _op_heron(b, op, spec, n)
        elif spec.key == "osprey":
            _op_osprey(b, op, spec, n)
        elif spec.key == "marlin":
            _op_marlin(b, op, spec, n, infra)
        elif spec.key == "plover":
            _op_plover(b, op, spec, n, infra)
        else:  # pragma: no cover - OPERATORS and this dispatch are edited together
            raise KeyError(spec.key)
        b.segments[f"operator_{spec.key}"] = n
    return assemble(b, popular_start, popular_cdf)


def assemble(b: Builder, popular_start: int, popular_cdf: np.ndarray, world: Any = None) -> Population:
    """Freeze the builder's lists into the Population the table writers read."""
    a = {k: np.concatenate(v) for k, v in b.cols.items()}
    n = b.n
    account_of = np.where(a["owner"] < 0, np.arange(n), a["owner"])
    ip_ptr, ip_flat, _ = _csr(n, b.links["ip"])
    dev_ptr, dev_flat, _ = _csr(n, b.links["dev"])
    if (np.diff(ip_ptr) == 0).any() or (np.diff(dev_ptr) == 0).any():
        raise AssertionError("every account needs at least one IP and one device")
    inst_acct = np.concatenate([link[0] for link in b.links["inst"]])
    inst_item = np.concatenate([link[1] for link in b.links["inst"]])
    inst_added = np.concatenate([link[2] for link in b.links["inst"]])
    order = np.lexsort((inst_item, inst_acct))
    key_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(a["n_keys"].astype(np.int64), out=key_ptr[1:])
    seed = b.seed
    r = np.random.default_rng([seed, 3])
    return Population(
        seed=seed,
        scale=b.scale,
        a=a,
        account_id=hex_strings(salted_keys(seed, NS_ACCOUNT, account_of), "acct_"),
        n_interactions=_volumes(a, b.scale, b.pool_totals),
        groups=b.groups,
        group_is_distillation=b.group_dist,
        domains=b.domains,
        ip_text=_ip_text(b),
        ip_ptr=ip_ptr,
        ip_flat=ip_flat,
        device_text=hex_strings(salted_keys(seed, NS_DEVICE, np.arange(b.n_devs)), "dev_"),
        device_ua=np.concatenate(b.dev_ua),
        device_tls=np.concatenate(b.dev_tls),
        dev_ptr=dev_ptr,
        dev_flat=dev_flat,
        key_ptr=key_ptr,
        key_text=hex_strings(salted_keys(seed, NS_API_KEY, np.arange(key_ptr[-1])), "key_"),
        template_fp=salted_keys(seed, NS_TEMPLATE, np.arange(b.n_tpl)),
        template_cat=np.concatenate(b.tpl_cat),
        popular_start=popular_start,
        popular_count=len(popular_cdf),
        popular_cdf=popular_cdf,
        inst_account=inst_acct[order],
        inst_item=inst_item[order],
        inst_added=inst_added[order],
        inst_text=hex_strings(salted_keys(seed, NS_INSTRUMENT, np.arange(b.n_inst)), "tok_"),
        inst_bin=np.concatenate(b.inst_bin),
        inst_last4=r.integers(0, 10_000, b.n_inst),
        inst_country=np.concatenate(b.inst_country),
        sync_phase_ms=int(r.integers(0, 288_000)),
        segments=dict(b.segments),
        tls_text=pa.array(vocab.TLS_FINGERPRINTS + tuple(b.extra_tls), type=pa.string()),
        ua_text=pa.array(vocab.USER_AGENTS + tuple(b.extra_ua), type=pa.string()),
        world=world,
    )
