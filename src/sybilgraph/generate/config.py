"""The figures of the synthetic world: windows, sizes at scale 1.0, confounder rates, operators.

Why one place: docs/generator.md quotes these numbers and the tests check them; keeping them
here (and nowhere else) means the document, the tests and the data cannot drift apart quietly.
Scale 1.0 is the reported campaign: ~25,000 fake accounts making ~28.8M requests between
2026-04-22 and 2026-06-05, hidden among 220,000 benign accounts with ~18M requests of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BENIGN",
    "BENIGN_END",
    "BENIGN_START",
    "CAMPAIGN_END",
    "CAMPAIGN_START",
    "DAY_MS",
    "FAKE_INTERACTIONS_AT_ONE",
    "GENERATOR_VERSION",
    "HOUR_MS",
    "OPERATORS",
    "ROWS_PER_PART",
    "BenignRates",
    "OperatorSpec",
    "ms",
    "scaled",
    "scaled_sqrt",
]

GENERATOR_VERSION = "1.0"


def ms(day: str) -> int:
    """Epoch milliseconds (UTC) of an ISO date or date-time."""
    return int(np.datetime64(day, "ms").astype(np.int64))


HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# The campaign: 2026-04-22 .. 2026-06-05 inclusive. Benign traffic spans the half year around it.
CAMPAIGN_START = ms("2026-04-22")
CAMPAIGN_END = ms("2026-06-06")  # exclusive
BENIGN_START = ms("2026-01-01")
BENIGN_END = ms("2026-07-01")  # exclusive

# About 2M interactions per Parquet part: bounded memory, parts big enough to read fast.
ROWS_PER_PART = 2_000_000


def scaled(at_one: float, scale: float, minimum: int) -> int:
    """A count that grows linearly with scale but never drops below ``minimum``."""
    return max(minimum, round(at_one * scale))


def scaled_sqrt(at_one: float, scale: float, minimum: int) -> int:
    """A count of *shared* things (NAT exits, VM images, template pools) that grows like sqrt(scale).

    Why: the number of accounts behind each shared thing should shrink less than linearly, so a
    carrier NAT exit is still shared by hundreds of strangers in a test-sized bundle.
    """
    return max(minimum, round(at_one * math.sqrt(scale)))


@dataclass(frozen=True)
class BenignRates:
    """The benign population and its confounders (fractions are of benign accounts)."""

    accounts: int = 220_000
    interactions: int = 18_000_000
    household_share: float = 0.09  # accounts living in 2-5 person households
    household_sizes: tuple[float, ...] = (0.45, 0.30, 0.17, 0.08)  # P(size = 2, 3, 4, 5)
    household_card_share: float = 0.35  # households whose members share one card
    household_device_share: float = 0.25  # households with a shared family computer
    org_share: float = 0.07  # accounts of organisations (5-200 seats)
    org_min_size: int = 5
    org_max_size: int = 200
    org_size_exponent: float = 1.8  # P(size) ~ size^-1.8
    org_card_coverage: float = 0.85  # members paying with the corporate card
    org_domain_coverage: float = 0.9  # members using the organisation's e-mail domain
    campus_share: float = 0.06  # students / co-working members behind a few NAT IPs
    campus_size_range: tuple[int, int] = (300, 3000)  # at scale 1.0
    campus_ips_range: tuple[int, int] = (2, 6)
    developer_share: float = 0.006  # heavy single API developers
    developer_volume_share: float = 0.25  # of the benign interactions
    mobile_share: float = 0.40  # of people in a country with a modelled carrier
    mobile_only_share: float = 0.2  # of mobile users: never on a home line
    carrier_countries: tuple[str, ...] = ("US", "IN", "GB", "BR")
    carrier_exits_at_one: int = 8  # NAT exit IPs per carrier (scales with sqrt)
    vpn_share: float = 0.07
    vpn_providers: int = 3
    vpn_exits_at_one: int = 8  # exit IPs per provider (scales with sqrt)
    popular_templates: int = 300  # templates of common tools, Zipf popularity
    popular_zipf: float = 1.1
    tool_user_share: float = 0.6  # people who use at least one common tool
    card_share: float = 0.55  # standalone people with a card on file
    ipv6_share: float = 0.10  # home lines reached over IPv6
    zero_activity_share: float = 0.06  # signed up, never used the API
    churn_share: float = 0.10  # stopped using the product during the window
    closed_share: float = 0.025
    suspended_share: float = 0.004


BENIGN = BenignRates()


@dataclass(frozen=True)
class OperatorSpec:
    """One distillation operator: its size, workload and tradecraft (the identity part lives in
    population.py, one function per operator)."""

    key: str
    truth: str  # the true operator name in `truth`
    label: str | None  # the investigators' name in `labels`, where they know some accounts
    label_source: str | None
    accounts_at_one: int
    intensity: float  # relative interactions per account
    mix: str  # vocab.MIXES key
    hour_profile: str  # vocab.HOUR_PROFILES key
    tz: int  # UTC offset of the operator's schedule
    template_pool_at_one: int  # its own prompt templates (scales with sqrt)
    template_window: int  # templates one account works through
    p_popular: float  # share of requests sent through common tools' templates
    p_pool: float  # share of requests built from its own templates
    suspended_share: float
    tradecraft: str


OPERATORS: tuple[OperatorSpec, ...] = (
    OperatorSpec(
        key="kestrel",
        truth="DIST-KESTREL",
        label="OP-KESTREL",
        label_source="abuse-report-2026-05",
        accounts_at_one=9000,
        intensity=1.0,
        mix="op_reasoning",
        hour_profile="flat",
        tz=0,
        template_pool_at_one=250,
        template_window=40,
        p_popular=0.08,
        p_pool=0.75,
        suspended_share=0.30,
        tradecraft=(
            "prepaid cards shared by 10-50 accounts each; rotating residential proxies "
            "(IPs in many subnets, each reused by a few of its accounts, some of them real "
            "households' lines); anti-detect browsers posing as desktop Chrome; accounts "
            "created in bursts all through the campaign and rotated every 1-4 weeks; "
            "reasoning-heavy, round the clock"
        ),
    ),
    OperatorSpec(
        key="heron",
        truth="DIST-HERON",
        label="OP-HERON",
        label_source="payments-review-2026-05",
        accounts_at_one=6000,
        intensity=1.3,
        mix="op_coding",
        hour_profile="two_shifts",
        tz=2,
        template_pool_at_one=150,
        template_window=60,
        p_popular=0.04,
        p_pool=0.8,
        suspended_share=0.15,
        tradecraft=(
            "one virtual card per account from three BINs; datacenter IPs in a few /24 "
            "subnets; cloned VM images (a dozen device fingerprints, headless Chrome); its "
            "own throwaway e-mail domains; created in four bursts before the campaign; "
            "coding-heavy, two 8-hour shifts"
        ),
    ),
    OperatorSpec(
        key="osprey",
        truth="DIST-OSPREY",
        label=None,
        label_source=None,
        accounts_at_one=4000,
        intensity=0.9,
        mix="op_agentic",
        hour_profile="sawtooth6",
        tz=0,
        template_pool_at_one=400,
        template_window=30,
        p_popular=0.0,
        p_pool=0.92,
        suspended_share=0.02,
        tradecraft=(
            "careful: no card, device or IP shared between accounts (fresh residential "
            "lines, common issuers, major webmail); accounts aged in advance (created "
            "mid/late 2025); shows only through its own prompt-template pool, a custom TLS "
            "fingerprint behind a vendor-SDK user agent, and a synchronised round-the-clock "
            "scheduler (every request fires in the same 12 s of each 5-minute tick, in "
            "6-hour ramps); agentic-heavy"
        ),
    ),
    OperatorSpec(
        key="marlin",
        truth="DIST-MARLIN",
        label="OP-MARLIN",
        label_source="abuse-report-2026-05",
        accounts_at_one=3500,
        intensity=1.1,
        mix="op_math",
        hour_profile="phone_farm",
        tz=8,
        template_pool_at_one=180,
        template_window=50,
        p_popular=0.10,
        p_pool=0.70,
        suspended_share=0.10,
        tradecraft=(
            "hides behind a mobile carrier's NAT (the same exit IPs as thousands of benign "
            "phone users); an emulator farm (each emulated phone on ~10 accounts, Android "
            "app fingerprint); prepaid cards on 3-8 accounts each; created in six bursts; "
            "math/reasoning-heavy, 16 hours a day"
        ),
    ),
    OperatorSpec(
        key="plover",
        truth="DIST-PLOVER",
        label=None,
        label_source=None,
        accounts_at_one=2500,
        intensity=1.2,
        mix="op_mixed",
        hour_profile="flat_gap",
        tz=0,
        template_pool_at_one=200,
        template_window=50,
        p_popular=0.08,
        p_pool=0.75,
        suspended_share=0.12,
        tradecraft=(
            "mixed: half its accounts behind a commercial VPN (exits shared with benign "
            "users), half on two datacenter /24s; prepaid cards on ~5 accounts each or "
            "virtual cards; half bought aged, half created in bursts; python-httpx client "
            "(a common automation fingerprint); coding/agentic, round the clock with a "
            "daily two-hour maintenance gap"
        ),
    ),
)

FAKE_INTERACTIONS_AT_ONE = 28_800_000
