"""Tradecraft modes and the drawn world: every knob of every operator and of the benign crowd.

Why draw worlds at all: attribution tuned on five fixed operators met every bound on them and
broke on bundles written by someone else. An evaluation that resists overfitting needs worlds
that differ from draw to draw, so ``--tradecraft random`` draws per seed how many operators
there are, which family each belongs to (card rings, proxy farms, datacenter VM farms, carrier
NAT emulator farms, careful operators, VPN mixes, sub-crews, account takeover) and each one's
knobs from wide ranges, plus the rates of the benign population and its look-alikes (large open
customers, SaaS platforms, households, campuses, heavy developers). ``--tradecraft
careful:2,vm_farm`` draws a world with only those operators, for focused tests.

This module is pure: ``draw_world`` turns (seed, scale, mode) into a ``World`` of frozen
dataclasses, recorded whole in ``generator.json``; population building (world.py, families.py)
reads it and never draws a knob of its own. The ranges are documented in docs/generator.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sybilgraph.generate import vocab
from sybilgraph.generate.config import BENIGN, BenignRates

__all__ = [
    "BASE_FAMILIES",
    "FAMILIES",
    "MIN_OPERATOR_ACCOUNTS",
    "Crew",
    "Identity",
    "Infra",
    "Leaks",
    "Lifecycle",
    "LookAlikes",
    "OperatorPlan",
    "OrgPlan",
    "Schedule",
    "Tradecraft",
    "TradecraftError",
    "Workload",
    "World",
    "draw_world",
    "parse_tradecraft",
]

# Operator families. The first six are "base" families: a sub-crew is drawn like one of them.
BASE_FAMILIES: tuple[str, ...] = ("card_ring", "proxy_farm", "vm_farm", "carrier_nat", "careful", "vpn_mixed")
FAMILIES: tuple[str, ...] = (*BASE_FAMILIES, "sub_crews", "takeover")
MIN_OPERATOR_ACCOUNTS = 18
MAX_FAMILY_COUNT = 8
# Random worlds: 3-7 operators.
OPERATORS_RANGE = (3, 7)
ACCOUNTS_AT_ONE_RANGE = (500, 10_000)
# A world's operators send at most this many requests at scale 1.0 (the classic five send
# 28.8M): beyond it every operator's intensity is scaled down alike, which keeps a random
# world's bundle within ~2x the classic one's size and generation time.
OPERATOR_REQUESTS_BUDGET_AT_ONE = 40_000_000


class TradecraftError(ValueError):
    """A --tradecraft value that names no mode or family."""


@dataclass(frozen=True)
class Tradecraft:
    """A parsed --tradecraft value: classic, random, or a list of (family, count)."""

    text: str
    families: tuple[tuple[str, int], ...] = ()

    @property
    def classic(self) -> bool:
        return self.text == "classic"

    @property
    def random(self) -> bool:
        return self.text == "random"


def parse_tradecraft(text: str) -> Tradecraft:
    """``classic`` | ``random`` | ``family[:count][,family[:count]...]`` (e.g. ``careful:2,vm_farm``)."""
    value = (text or "").strip().lower()
    if value in ("classic", "random"):
        return Tradecraft(value)
    items: list[tuple[str, int]] = []
    for part in value.split(","):
        name, _, count = part.strip().partition(":")
        if name not in FAMILIES:
            raise TradecraftError(
                f"unknown tradecraft {part.strip()!r}: use classic, random, or families from {', '.join(FAMILIES)} "
                "(optionally family:count, comma-separated)"
            )
        try:
            k = int(count) if count else 1
        except ValueError:
            raise TradecraftError(f"tradecraft {part.strip()!r}: the count after ':' must be an integer") from None
        if not 1 <= k <= MAX_FAMILY_COUNT:
            raise TradecraftError(f"tradecraft {part.strip()!r}: count must be 1-{MAX_FAMILY_COUNT}")
        items.append((name, k))
    canonical = ",".join(f"{n}:{k}" if k > 1 else n for n, k in items)
    return Tradecraft(canonical, tuple(items))


# --- the knobs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lifecycle:
    """When accounts are created, when they work, and how they end."""

    age: str  # fresh | aged | mixed
    aged_share: float  # of accounts created months ahead (1.0 aged, 0.0 fresh)
    aged_months: tuple[float, float]  # how long before the operator starts
    creation_days: int  # fresh accounts are created within this many days
    creation_lead_days: int  # ... starting this many days before the operator starts
    bursts: int  # fresh accounts come in this many bursts
    burst_hours: float  # spread of one burst
    active_from_day: int  # operator starts this many days into the campaign window
    active_until_gap_days: int  # and stops this many days before its end
    churn_share: float  # burner accounts that live 1-2 days
    rotate_days: tuple[int, int] | None  # accounts retired after this many days (None: all campaign)
    suspended_share: float


@dataclass(frozen=True)
class Identity:
    """What an account says about itself: country, e-mail, card issuer."""

    countries: tuple[str, ...]  # () = like the benign population
    email: str  # webmail | disposable | own_domains
    disposable_share: float
    own_domains: int
    own_domain_share: float
    bin_kind: str  # common | prepaid | virtual (which issuers its cards come from)
    n_bins: int


@dataclass(frozen=True)
class Schedule:
    """When the accounts send requests."""

    kind: str  # diurnal | round_the_clock | shifts | business
    hour_profile: str  # vocab.HOUR_PROFILES key
    tz: int  # UTC offset of the schedule
    tz_spread: int  # each account's own offset lies within +-tz_spread hours
    human: bool  # requests come in sittings, like a person


@dataclass(frozen=True)
class Workload:
    """What the accounts ask and how much."""

    requests_per_account: float  # mean interactions per account over its life
    volume_sigma: float  # lognormal spread of per-account volume
    mix: str
    model_profile: str
    api_only: bool
    p_web: float
    max_keys: int
    pool_at_one: int  # private template pool at scale 1.0 (scales with sqrt)
    subset: int  # templates one account uses
    subset_mode: str  # window (consecutive) | scattered (a random subset)
    p_pool: float  # share of requests from the private pool
    p_popular: float  # share through popular public templates
    paraphrase: float  # share paraphrased or free-form: a fingerprint of its own


@dataclass(frozen=True)
class Infra:
    """Cards, devices and networks of one operator (or crew). Fields unused by a family stay at
    their defaults; ``family`` says which apply (docs/generator.md lists them per family)."""

    family: str
    # cards
    accounts_per_card: tuple[int, int] = (1, 1)
    card_coverage: float = 1.0
    # networks
    network: str = "residential_proxy"  # residential_proxy | own_lines | datacenter | carrier | vpn | sticky_home
    exits_per_account: tuple[int, int] = (1, 1)
    accounts_per_exit: float = 1.0
    home_overlap: float = 0.0  # proxy exits that are real benign homes
    dc_proxy_share: float = 0.0  # proxy exits in a proxy provider's datacenter range
    own_lines: int = 0
    dc_host: str = "big_cloud"  # big_cloud | hosting (who owns the datacenter /24s)
    dc_blocks: int = 0
    vms: int = 0
    ips_per_vm: tuple[int, int] = (1, 1)
    carrier: str = ""
    vpn_provider: int = 0
    vpn_share: float = 0.0
    dc_share: float = 0.0
    # devices and clients
    device: str = "anti_detect"  # anti_detect | vm_clone | emulator | own_private | own_common | automation
    client: str = "chrome"  # vocab browser profile name, or "private"
    accounts_per_device: tuple[int, int] = (1, 1)
    # takeover
    takeover_from_households: float = 0.0
    takeover_adds_card: float = 0.0


@dataclass(frozen=True)
class Crew:
    """One crew of a sub-crews operator: its own infrastructure, schedule and identity."""

    share: float
    infra: Infra
    schedule: Schedule
    lifecycle: Lifecycle
    email: str
    disposable_share: float


@dataclass(frozen=True)
class Leaks:
    """How the operator's organisation shows through its accounts."""

    accounts: int  # accounts that touch the organisation (0: no trail)
    kinds: tuple[str, ...]  # card | device | office | domain | cloud


@dataclass(frozen=True)
class OperatorPlan:
    truth: str
    family: str
    accounts_at_one: int
    accounts: int
    organisation: int  # index into World.organisations
    label: str | None
    label_share: float
    label_min: int
    label_source: str
    label_names_organisation: bool
    lifecycle: Lifecycle
    identity: Identity
    schedule: Schedule
    workload: Workload
    infra: Infra
    crews: tuple[Crew, ...]
    leaks: Leaks

    def knobs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OrgPlan:
    """An organisation behind operators, a benign AI lab (decoy), or a large open customer."""

    name: str
    kind: str  # ai_lab | enterprise | reseller
    country: str
    domain_word: str
    listed: bool  # in the organisations table (else discoverable only from domain / network owner)
    open_accounts_at_one: int
    office_ips: int
    cloud_tenancy: bool
    cloud_provider: int
    role: str  # operator_org | decoy_lab | large_customer


@dataclass(frozen=True)
class LookAlikes:
    """Benign groups that look like operators in one respect or another."""

    large_customers: int  # at scale 1.0 (scales with sqrt)
    large_customer_seats: tuple[int, int]  # at scale 1.0 (linear, at least 15)
    large_customer_requests: float  # per seat
    saas_platforms: int
    saas_tenants_at_one: tuple[int, int]
    saas_backend_ips: tuple[int, int]
    saas_requests: float  # per tenant
    decoy_labs: int
    dev_tool_share: float  # of developers: heavy users of popular tools (shared templates)
    benign_prepaid_share: float  # of benign cards: prepaid
    benign_virtual_share: float  # of benign cards: virtual
    benign_requests_factor: float  # benign volume against the classic world
    listed_org_share: float  # of small benign organisations: in the organisations table
    no_trail_share: float  # operators whose organisation leaves no trail


@dataclass(frozen=True)
class World:
    seed: int
    scale: float
    tradecraft: str
    rates: BenignRates
    lookalikes: LookAlikes
    organisations: tuple[OrgPlan, ...]
    operators: tuple[OperatorPlan, ...]

    def manifest(self) -> dict[str, Any]:
        return {
            "tradecraft": self.tradecraft,
            "benign_rates": dataclasses.asdict(self.rates),
            "lookalikes": dataclasses.asdict(self.lookalikes),
        }


# --- drawing ----------------------------------------------------------------------------------


def _loguniform(r: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(r.uniform(math.log(lo), math.log(hi))))


def _pick(r: np.random.Generator, options: tuple[Any, ...] | list[Any], p: list[float] | None = None) -> Any:
    i = int(r.choice(len(options), p=None if p is None else np.asarray(p) / sum(p)))
    return options[i]


def _mostly_zero(r: np.random.Generator, p_zero: float, hi: float) -> float:
    """0 with probability p_zero, else uniform in (0, hi]: both ends of a range show up."""
    return 0.0 if r.random() < p_zero else round(float(r.uniform(0.02, hi)), 3)


def _draw_rates(r: np.random.Generator) -> BenignRates:
    """The benign population's rates, drawn around the classic world's."""
    u = r.uniform
    hh_sizes = r.dirichlet([9, 6, 3.4, 1.6])
    return dataclasses.replace(
        BENIGN,
        household_share=round(u(0.05, 0.14), 3),
        household_sizes=tuple(float(x) for x in hh_sizes / hh_sizes.sum()),
        household_card_share=round(u(0.15, 0.55), 3),
        household_device_share=round(u(0.1, 0.45), 3),
        org_share=round(u(0.04, 0.1), 3),
        org_card_coverage=round(u(0.7, 0.95), 3),
        org_domain_coverage=round(u(0.75, 0.98), 3),
        campus_share=round(u(0.03, 0.09), 3),
        developer_share=round(u(0.003, 0.01), 4),
        developer_volume_share=round(u(0.15, 0.35), 3),
        mobile_share=round(u(0.25, 0.55), 3),
        mobile_only_share=round(u(0.1, 0.3), 3),
        carrier_exits_at_one=int(r.integers(4, 17)),
        vpn_share=round(u(0.03, 0.12), 3),
        vpn_providers=int(r.integers(2, 5)),
        vpn_exits_at_one=int(r.integers(4, 17)),
        popular_zipf=round(u(0.9, 1.3), 3),
        tool_user_share=round(u(0.4, 0.75), 3),
        card_share=round(u(0.4, 0.7), 3),
        ipv6_share=round(u(0.05, 0.2), 3),
        churn_share=round(u(0.05, 0.15), 3),
    )


def _draw_lookalikes(r: np.random.Generator) -> LookAlikes:
    u = r.uniform
    lo = int(r.integers(50, 200))
    t_lo = int(r.integers(20, 150))
    return LookAlikes(
        large_customers=int(r.integers(2, 9)),
        large_customer_seats=(lo, int(r.integers(max(lo + 1, 150), 501))),
        large_customer_requests=round(_loguniform(r, 300, 3000), 1),
        saas_platforms=int(r.integers(1, 4)),
        saas_tenants_at_one=(t_lo, int(r.integers(t_lo + 50, 401))),
        saas_backend_ips=(2, int(r.integers(3, 9))),
        saas_requests=round(_loguniform(r, 100, 1500), 1),
        decoy_labs=int(r.integers(2, 6)),
        dev_tool_share=round(u(0.1, 0.5), 3),
        benign_prepaid_share=round(u(0.01, 0.06), 3),
        benign_virtual_share=round(u(0.005, 0.04), 3),
        benign_requests_factor=round(u(0.7, 1.4), 3),
        listed_org_share=round(u(0.2, 0.6), 3),
        no_trail_share=round(u(0.2, 0.4), 3),
    )


def _draw_lifecycle(r: np.random.Generator, family: str) -> Lifecycle:
    if family == "careful":
        age = "aged"
    elif family == "vm_farm":
        age = "fresh"
    elif family == "vpn_mixed":
        age = "mixed"
    else:
        age = _pick(r, ("fresh", "aged", "mixed"), [0.55, 0.2, 0.25])
    aged_share = {"fresh": 0.0, "aged": 1.0}.get(age, round(float(r.uniform(0.3, 0.7)), 3))
    lo = round(float(r.uniform(2, 8)), 1)
    creation_days = int(r.integers(7, 29)) if family == "vm_farm" else int(r.integers(7, 61))
    rotate = None
    if family in ("card_ring", "proxy_farm") and r.random() < 0.4:
        a = int(r.integers(5, 15))
        rotate = (a, a + int(r.integers(5, 20)))
    return Lifecycle(
        age=age,
        aged_share=aged_share,
        aged_months=(lo, round(lo + float(r.uniform(1, 10)), 1)),
        creation_days=creation_days,
        creation_lead_days=int(r.integers(0, 22)),
        bursts=int(r.integers(1, 13)),
        burst_hours=round(float(r.uniform(0.5, 8)), 2),
        active_from_day=int(r.integers(0, 15)),
        active_until_gap_days=int(r.integers(0, 11)),
        churn_share=0.0 if family == "careful" else _mostly_zero(r, 0.35, 0.5),
        rotate_days=rotate,
        suspended_share=round(float(r.uniform(0.0, 0.3)), 3),
    )


def _draw_identity(r: np.random.Generator, family: str) -> Identity:
    if family == "careful":
        email = "webmail"
    elif family == "vm_farm":
        email = _pick(r, ("disposable", "own_domains"))
    else:
        email = _pick(r, ("webmail", "disposable", "own_domains"), [0.5, 0.25, 0.25])
    countries: tuple[str, ...] = ()
    if family != "careful" and r.random() < 0.5:
        k = int(r.integers(1, 5))
        countries = tuple(sorted(_pick_countries(r, k)))
    bin_kind = {"careful": "common", "card_ring": "prepaid", "carrier_nat": "prepaid", "proxy_farm": "virtual"}.get(
        family, _pick(r, ("prepaid", "virtual", "common"), [0.4, 0.4, 0.2])
    )
    return Identity(
        countries=countries,
        email=email,
        disposable_share={"webmail": round(float(r.uniform(0, 0.3)), 3), "disposable": round(float(r.uniform(0.6, 1)), 3)}.get(
            email, 0.0
        ),
        own_domains=int(r.integers(1, 4)) if family == "vm_farm" else int(r.integers(1, 9)),
        own_domain_share=round(float(r.uniform(0.5, 1.0)), 3) if email == "own_domains" else 0.0,
        bin_kind=bin_kind,
        n_bins=int(r.integers(1, 5)),
    )


def _pick_countries(r: np.random.Generator, k: int) -> list[str]:
    idx = r.choice(len(vocab.COUNTRIES), k, replace=False, p=vocab.COUNTRY_WEIGHTS)
    return [vocab.COUNTRIES[i] for i in idx]


def _draw_schedule(r: np.random.Generator, family: str) -> Schedule:
    if family == "careful":
        kind = _pick(r, ("diurnal", "round_the_clock"), [0.7, 0.3])
    else:
        kind = _pick(r, ("diurnal", "round_the_clock", "shifts", "business"), [0.2, 0.45, 0.25, 0.1])
    profile = {
        "diurnal": _pick(r, ("diurnal", "night_owl"), [0.8, 0.2]),
        "round_the_clock": _pick(r, ("flat", "flat_gap", "automation")),
        "shifts": _pick(r, ("two_shifts", "one_shift", "three_shifts", "phone_farm")),
        "business": "business",
    }[kind]
    spread = int(r.integers(3, 10)) if family == "careful" and kind == "diurnal" else _pick(
        r, (0, 0, 1, 2, 3, 6)
    )
    return Schedule(
        kind=kind,
        hour_profile=profile,
        tz=int(r.integers(-8, 10)),
        tz_spread=spread,
        human=kind == "diurnal" and (family == "careful" or r.random() < 0.5),
    )


def _draw_workload(r: np.random.Generator, family: str) -> Workload:
    careful = family == "careful"
    subset = int(r.integers(5, 81))
    pool = int(_loguniform(r, max(30, subset * 1.5), 900))
    p_popular = round(float(r.uniform(0.05, 0.4) if careful else r.uniform(0.0, 0.3)), 3)
    paraphrase = round(float(r.uniform(0.0, 0.6) if careful else r.uniform(0.0, 0.3)), 3)
    p_pool = round(max(0.1, 1.0 - p_popular - paraphrase), 3)
    api_only = r.random() < 0.7
    return Workload(
        requests_per_account=round(_loguniform(r, 150, 2500), 1),
        volume_sigma=round(float(r.uniform(0.3, 1.0)), 3),
        mix=_pick(r, ("op_reasoning", "op_coding", "op_agentic", "op_math", "op_mixed")),
        model_profile=_pick(r, ("distiller", "distiller_reasoning", "distiller_broad"), [0.5, 0.3, 0.2]),
        api_only=api_only,
        p_web=0.0 if api_only else round(float(r.uniform(0.05, 0.4)), 3),
        max_keys=int(r.integers(1, 4)),
        pool_at_one=pool,
        subset=subset,
        subset_mode="scattered" if careful or r.random() < 0.5 else "window",
        p_pool=p_pool,
        p_popular=p_popular,
        paraphrase=round(1.0 - p_pool - p_popular, 3),
    )


def _draw_infra(r: np.random.Generator, family: str, rates: BenignRates) -> Infra:
    """Cards, devices and networks, per family (docs/generator.md, "Operator families")."""
    ri = r.integers
    if family == "card_ring":
        lo = int(ri(3, 20))
        own_lines = r.random() < 0.3
        return Infra(
            family,
            accounts_per_card=(lo, int(ri(lo + 1, 51))),
            network="own_lines" if own_lines else "residential_proxy",
            exits_per_account=(1, int(ri(2, 4))) if own_lines else (int(ri(2, 8)), int(ri(8, 21))),
            accounts_per_exit=round(float(r.uniform(1, 8)), 2),
            home_overlap=0.0 if own_lines else _mostly_zero(r, 0.25, 0.3),
            own_lines=int(ri(5, 41)),
            device="anti_detect",
            client=_pick(r, ("chrome_win", "chrome_mac")),
        )
    if family == "proxy_farm":
        return Infra(
            family,
            network="residential_proxy",
            exits_per_account=(int(ri(2, 6)), int(ri(6, 21))),
            accounts_per_exit=round(float(r.uniform(1, 8)), 2),
            home_overlap=_mostly_zero(r, 0.2, 0.3),
            dc_proxy_share=_mostly_zero(r, 0.6, 0.3),
            device=_pick(r, ("anti_detect", "own_common")),
            client=_pick(r, ("chrome_win", "chrome_mac", "firefox")),
        )
    if family == "vm_farm":
        lo = int(ri(1, 3))
        return Infra(
            family,
            card_coverage=round(float(r.uniform(0.0, 1.0)), 3),
            network="datacenter",
            dc_host=_pick(r, ("big_cloud", "hosting"), [0.7, 0.3]),
            dc_blocks=int(ri(1, 5)),
            vms=int(ri(2, 21)),
            ips_per_vm=(lo, int(ri(lo, 4))),
            device="vm_clone",
            client=_pick(r, ("python_requests", "go", "node", "curl", "private")),  # non-browser clients
        )
    if family == "carrier_nat":
        lo = int(ri(2, 8))
        return Infra(
            family,
            accounts_per_card=(int(ri(5, 20)), int(ri(20, 60))),
            card_coverage=round(float(r.uniform(0.2, 0.6)), 3),
            network="carrier",
            exits_per_account=(int(ri(1, 4)), int(ri(4, 8))),
            carrier=_pick(r, rates.carrier_countries),
            device="emulator",
            client="android_app",
            accounts_per_device=(lo, int(ri(lo + 1, 16))),
        )
    if family == "careful":
        private = r.random() < 0.75
        return Infra(
            family,
            network="sticky_home",
            exits_per_account=(1, int(ri(1, 3))),
            device="own_private" if private else "own_common",
            client="private" if private else _pick(r, ("python_httpx", "vendor_sdk", "node")),
        )
    if family == "vpn_mixed":
        vpn_share = round(float(r.uniform(0.2, 0.9)), 3)
        return Infra(
            family,
            accounts_per_card=(int(ri(2, 5)), int(ri(5, 12))),
            card_coverage=round(float(r.uniform(0.3, 0.8)), 3),  # on shared prepaid cards; the rest virtual
            network="vpn",
            exits_per_account=(int(ri(2, 4)), int(ri(4, 8))),
            vpn_provider=int(ri(0, rates.vpn_providers)),
            vpn_share=vpn_share,
            dc_share=round(float(r.uniform(0.1, 0.5)), 3),
            dc_host=_pick(r, ("big_cloud", "hosting")),
            dc_blocks=int(ri(1, 4)),
            device="automation",
            client="python_httpx",
        )
    if family == "takeover":
        return Infra(
            family,
            network=_pick(r, ("residential_proxy", "datacenter")),
            exits_per_account=(int(ri(2, 5)), int(ri(5, 15))),
            accounts_per_exit=round(float(r.uniform(1, 6)), 2),
            dc_host="hosting",
            dc_blocks=int(ri(1, 4)),
            device=_pick(r, ("anti_detect", "automation")),
            client=_pick(r, ("chrome_win", "python_requests", "node")),
            takeover_from_households=round(float(r.uniform(0.1, 0.6)), 3),
            takeover_adds_card=_mostly_zero(r, 0.5, 0.5),
        )
    raise KeyError(family)  # pragma: no cover - sub_crews is drawn by _draw_crews


def _draw_crews(r: np.random.Generator, rates: BenignRates) -> tuple[Crew, ...]:
    k = int(r.integers(2, 5))
    shares = r.dirichlet(np.full(k, 3.0))
    crews = []
    for share in shares:
        family = _pick(r, BASE_FAMILIES)
        ident = _draw_identity(r, family)
        crews.append(
            Crew(
                share=round(float(share), 4),
                infra=_draw_infra(r, family, rates),
                schedule=_draw_schedule(r, family),
                lifecycle=_draw_lifecycle(r, family),
                email=ident.email,
                disposable_share=ident.disposable_share,
            )
        )
    return tuple(crews)


def _draw_leaks(r: np.random.Generator, n: int, no_trail: float, org: OrgPlan) -> Leaks:
    if r.random() < no_trail:
        return Leaks(0, ())
    kinds = ["card", "device", "office", "domain"] + (["cloud"] if org.cloud_tenancy else [])
    chosen = tuple(sorted(r.choice(kinds, int(r.integers(1, len(kinds) + 1)), replace=False).tolist()))
    share = float(r.uniform(0.002, 0.04))
    return Leaks(max(1, min(n // 3, round(share * n))), chosen)


def _org(r: np.random.Generator, kind: str, role: str, listed: float, used: set[str]) -> OrgPlan:
    while True:
        word = "".join(_pick(r, vocab.SYLLABLES) for _ in range(int(r.integers(2, 4))))
        if word not in used:
            used.add(word)
            break
    name = f"{word.capitalize()} {_pick(r, vocab.ORG_SUFFIXES[kind])}"
    return OrgPlan(
        name=name,
        kind=kind,
        country=_pick_countries(r, 1)[0],
        domain_word=word,
        listed=bool(r.random() < listed),
        open_accounts_at_one=int(r.integers(5, 81)) if role != "large_customer" else 0,
        office_ips=int(r.integers(1, 7)),
        cloud_tenancy=bool(r.random() < 0.5),
        cloud_provider=int(r.integers(0, len(vocab.CLOUD_PROVIDERS))),
        role=role,
    )


def _families_for(r: np.random.Generator, tc: Tradecraft) -> list[str]:
    if tc.random:
        k = int(r.integers(OPERATORS_RANGE[0], OPERATORS_RANGE[1] + 1))
        return [str(f) for f in r.choice(FAMILIES, k, replace=True)]
    return [name for name, count in tc.families for _ in range(count)]


def draw_world(seed: int, scale: float, tradecraft: Tradecraft) -> World:
    """Every knob of a random or family-mode world, from its own seeded streams."""
    if tradecraft.classic:
        raise ValueError("the classic world is config.OPERATORS, not drawn")
    rates = _draw_rates(np.random.default_rng([seed, 100, 1]))
    look = _draw_lookalikes(np.random.default_rng([seed, 100, 2]))
    r = np.random.default_rng([seed, 100, 3])
    families = _families_for(r, tradecraft)
    used: set[str] = set()
    orgs: list[OrgPlan] = []
    op_org: list[int] = []
    for i, _ in enumerate(families):
        if i > 0 and r.random() < 0.25:  # some organisations run two operators
            op_org.append(op_org[int(r.integers(0, i))])
            continue
        kind = _pick(r, ("ai_lab", "enterprise", "reseller"), [0.7, 0.15, 0.15])
        orgs.append(_org(r, kind, "operator_org", listed=0.75, used=used))
        op_org.append(len(orgs) - 1)
    for _ in range(look.decoy_labs):
        orgs.append(_org(r, "ai_lab", "decoy_lab", listed=0.9, used=used))
    for _ in range(look.large_customers):
        orgs.append(_org(r, _pick(r, ("enterprise", "ai_lab")), "large_customer", listed=0.7, used=used))

    truth_words = list(r.permutation(vocab.TRUTH_WORDS)[: len(families)])
    label_words = list(r.permutation(vocab.LABEL_WORDS)[: len(families)])
    labelled_share = float(r.uniform(0.5, 0.7))
    n_labelled = max(1, round(labelled_share * len(families))) if tradecraft.random else len(families)
    labelled = set(r.choice(len(families), n_labelled, replace=False).tolist())
    operators = []
    for i, family in enumerate(families):
        o = np.random.default_rng([seed, 101, i])
        at_one = int(round(_loguniform(o, *ACCOUNTS_AT_ONE_RANGE)))
        n = max(MIN_OPERATOR_ACCOUNTS, round(at_one * scale))
        base = family if family in BASE_FAMILIES else _pick(o, ("card_ring", "proxy_farm", "vpn_mixed"))
        if family == "takeover":
            base = "takeover"
        crews = _draw_crews(o, rates) if family == "sub_crews" else ()
        infra = _draw_infra(o, base, rates) if family != "sub_crews" else crews[0].infra
        identity = _draw_identity(o, base)
        if family == "takeover":
            identity = dataclasses.replace(identity, email="webmail", own_domains=0, own_domain_share=0.0)
        operators.append(
            OperatorPlan(
                truth=f"DIST-{truth_words[i]}",
                family=family,
                accounts_at_one=at_one,
                accounts=n,
                organisation=op_org[i],
                label=f"OP-{label_words[i]}" if i in labelled else None,
                label_share=round(float(o.uniform(0.0, 0.05)), 4),
                label_min=int(o.integers(2, 4)),
                label_source=_pick(o, vocab.LABEL_SOURCES),
                label_names_organisation=bool(o.random() < 0.4),
                lifecycle=_draw_lifecycle(o, base),
                identity=identity,
                schedule=_draw_schedule(o, base),
                workload=_draw_workload(o, base),
                infra=infra,
                crews=crews,
                leaks=_draw_leaks(o, n, look.no_trail_share, orgs[op_org[i]]),
            )
        )
    return World(seed, scale, tradecraft.text, rates, look, tuple(orgs), tuple(_within_budget(operators)))


def _within_budget(operators: list[OperatorPlan]) -> list[OperatorPlan]:
    total = sum(o.accounts_at_one * o.workload.requests_per_account for o in operators)
    if total <= OPERATOR_REQUESTS_BUDGET_AT_ONE:
        return operators
    factor = OPERATOR_REQUESTS_BUDGET_AT_ONE / total
    return [
        dataclasses.replace(
            o, workload=dataclasses.replace(o.workload, requests_per_account=round(o.workload.requests_per_account * factor, 1))
        )
        for o in operators
    ]
