"""Fixed vocabularies of the synthetic world: countries, mail providers, browsers, BINs, models.

Why fixed: these stand for the outside world (the browsers people use, the banks that issue
cards, the webmail providers), which does not change with the run's seed. Only the population
drawn from them does. Everything here is synthetic: the TLS fingerprints and BINs are made up
from a fixed seed and match no real client or issuer on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BROWSER_PROFILES",
    "CATEGORIES",
    "COMMON_BINS",
    "COMMON_BIN_COUNTRY",
    "COMMON_BIN_WEIGHTS",
    "COUNTRIES",
    "COUNTRY_TZ",
    "COUNTRY_WEIGHTS",
    "DISPOSABLE_DOMAINS",
    "HOUR_PROFILES",
    "HUMAN_BROWSER_WEIGHTS",
    "MIXES",
    "MODELS",
    "MODEL_MAX_OUTPUT",
    "MODEL_PROFILES",
    "PREPAID_BINS",
    "SYLLABLES",
    "TLS_FINGERPRINTS",
    "TOKEN_LOG_MEANS",
    "USER_AGENTS",
    "VIRTUAL_BINS",
    "VIRTUAL_BIN_COUNTRY",
    "WEBMAIL_DOMAINS",
    "WEBMAIL_WEIGHTS",
    "BrowserProfile",
    "browser_profile_index",
    "category_index",
    "country_index",
]

# --- countries: ISO-3166-1 alpha-2, share of the benign population, UTC offset (whole hours) ---
_COUNTRY_TABLE: tuple[tuple[str, float, int], ...] = (
    ("US", 0.22, -5), ("IN", 0.09, 5), ("GB", 0.05, 0), ("DE", 0.05, 1), ("BR", 0.05, -3),
    ("FR", 0.04, 1), ("JP", 0.04, 9), ("KR", 0.03, 9), ("CA", 0.03, -5), ("AU", 0.02, 10),
    ("ES", 0.03, 1), ("IT", 0.03, 1), ("NL", 0.02, 1), ("PL", 0.02, 1), ("MX", 0.03, -6),
    ("ID", 0.03, 7), ("TR", 0.02, 3), ("VN", 0.02, 7), ("PH", 0.02, 8), ("NG", 0.02, 1),
    ("SG", 0.01, 8), ("SE", 0.01, 1), ("CH", 0.01, 1), ("IL", 0.01, 2), ("AR", 0.02, -3),
    ("ZA", 0.01, 2), ("UA", 0.01, 2), ("EG", 0.02, 2), ("PK", 0.02, 5), ("CO", 0.02, -5),
    ("TW", 0.01, 8), ("PT", 0.01, 0), ("CZ", 0.01, 1), ("KE", 0.01, 3), ("NZ", 0.005, 12),
)
COUNTRIES: tuple[str, ...] = tuple(c for c, _, _ in _COUNTRY_TABLE)
COUNTRY_WEIGHTS: np.ndarray = np.array([w for _, w, _ in _COUNTRY_TABLE]) / sum(
    w for _, w, _ in _COUNTRY_TABLE
)
COUNTRY_TZ: np.ndarray = np.array([tz for _, _, tz in _COUNTRY_TABLE], dtype=np.int8)
_COUNTRY_POS = {c: i for i, c in enumerate(COUNTRIES)}


def country_index(code: str) -> int:
    return _COUNTRY_POS[code]


# --- e-mail providers: free webmail everybody uses (weights), and throwaway-mail services ---
_WEBMAIL: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.45), ("outlook.com", 0.10), ("hotmail.com", 0.07), ("yahoo.com", 0.07),
    ("icloud.com", 0.07), ("proton.me", 0.03), ("gmx.de", 0.02), ("web.de", 0.01),
    ("mail.ru", 0.01), ("yandex.ru", 0.01), ("naver.com", 0.02), ("qq.com", 0.01),
    ("163.com", 0.01), ("aol.com", 0.01), ("zoho.com", 0.01), ("fastmail.com", 0.005),
    ("yahoo.co.jp", 0.01), ("orange.fr", 0.01), ("libero.it", 0.01), ("seznam.cz", 0.005),
)
WEBMAIL_DOMAINS: tuple[str, ...] = tuple(d for d, _ in _WEBMAIL)
WEBMAIL_WEIGHTS: np.ndarray = np.array([w for _, w in _WEBMAIL]) / sum(w for _, w in _WEBMAIL)
DISPOSABLE_DOMAINS: tuple[str, ...] = (
    "tempinbox.net", "throwmail.org", "quickmail.cc", "burnbox.io", "spamless.xyz",
)

# --- task categories and the category mixes of the different kinds of users ---
CATEGORIES: tuple[str, ...] = (
    "chat", "coding", "math", "reasoning", "agentic",
    "writing", "summarization", "translation", "extraction",
)
_CAT_POS = {c: i for i, c in enumerate(CATEGORIES)}


def category_index(name: str) -> int:
    return _CAT_POS[name]


def _mix(**weights: float) -> np.ndarray:
    v = np.zeros(len(CATEGORIES))
    for name, w in weights.items():
        v[_CAT_POS[name]] = w
    return v / v.sum()


# Rows: mix profiles. Distillation mixes lean on reasoning, coding and agentic traces.
MIXES: dict[str, np.ndarray] = {
    "consumer": _mix(chat=45, writing=15, coding=8, math=4, reasoning=4, agentic=1,
                     summarization=12, translation=8, extraction=3),
    "student": _mix(chat=30, writing=20, coding=12, math=15, reasoning=8,
                    summarization=10, translation=5),
    "worker": _mix(chat=20, writing=20, coding=20, summarization=15, extraction=10,
                   reasoning=5, agentic=5, translation=5),
    "developer": _mix(coding=45, extraction=15, agentic=15, chat=5, summarization=10,
                      reasoning=5, math=2, translation=3),
    "op_reasoning": _mix(reasoning=45, math=20, coding=15, agentic=5, chat=10, writing=5),
    "op_coding": _mix(coding=55, reasoning=15, agentic=15, math=10, chat=5),
    "op_agentic": _mix(agentic=45, coding=25, reasoning=20, math=5, chat=5),
    "op_math": _mix(math=35, reasoning=35, coding=20, chat=10),
    "op_mixed": _mix(coding=30, agentic=30, reasoning=25, math=10, chat=5),
}

# log-mean of (input, output) tokens per category; a lognormal around them.
TOKEN_LOG_MEANS: np.ndarray = np.array(
    [
        (5.0, 5.5),  # chat
        (6.5, 6.3),  # coding
        (5.0, 6.5),  # math
        (5.5, 7.0),  # reasoning
        (7.5, 6.0),  # agentic (long contexts)
        (5.5, 6.5),  # writing
        (7.5, 5.3),  # summarization
        (5.8, 5.8),  # translation
        (7.0, 5.0),  # extraction
    ]
)

MODELS: tuple[str, ...] = (
    "frontier-large-2026-02",
    "frontier-medium-2026-02",
    "frontier-small-2025-11",
    "frontier-reasoning-2026-03",
)
MODEL_MAX_OUTPUT: np.ndarray = np.array([32_768, 16_384, 8_192, 65_536], dtype=np.int64)
MODEL_PROFILES: dict[str, np.ndarray] = {
    "consumer": np.array([0.20, 0.50, 0.25, 0.05]),
    "worker": np.array([0.30, 0.45, 0.15, 0.10]),
    "developer": np.array([0.30, 0.30, 0.30, 0.10]),
    # Distillers harvest the strongest models only.
    "distiller": np.array([0.45, 0.05, 0.00, 0.50]),
}


def _hours(values: list[float]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    assert v.shape == (24,)
    return v / v.sum()


# Local-hour activity shapes (index = hour of day in the account's own time zone).
HOUR_PROFILES: dict[str, np.ndarray] = {
    # People: quiet at night, busy in the evening.
    "diurnal": _hours([0.25, 0.15, 0.1, 0.08, 0.08, 0.1, 0.25, 0.5, 0.8, 1.0, 1.1, 1.1,
                       1.0, 1.05, 1.1, 1.1, 1.05, 1.0, 1.1, 1.25, 1.3, 1.2, 0.9, 0.5]),
    "office": _hours([0.03, 0.02, 0.02, 0.02, 0.02, 0.03, 0.08, 0.3, 0.8, 1.2, 1.3, 1.25,
                      0.9, 1.2, 1.3, 1.25, 1.1, 0.8, 0.35, 0.2, 0.15, 0.1, 0.06, 0.04]),
    "night_owl": _hours([1.0, 0.9, 0.7, 0.4, 0.2, 0.1, 0.1, 0.15, 0.3, 0.45, 0.5, 0.55,
                         0.6, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0, 1.1, 1.2, 1.2, 1.1]),
    # Developers' automation: round the clock with a nightly batch bump.
    "automation": _hours([1.0, 1.1, 1.5, 1.5, 1.3, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
                          1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    "flat": _hours([1.0] * 24),
    # Two 8-hour shifts back to back, 8 quiet hours.
    "two_shifts": _hours([1.0] * 16 + [0.06] * 8),
    # A scheduler that ramps up inside each 6-hour batch window (the careful operator).
    "sawtooth6": _hours([0.35 + 0.65 * (h % 6) / 5 for h in range(24)]),
    # A farm of phones worked 16 hours a day with a lunch dip.
    "phone_farm": _hours([0.05] * 8 + [1.0, 1.0, 1.0, 1.0, 0.4, 0.5] + [1.0] * 10),
    # Round the clock with a daily two-hour maintenance gap.
    "flat_gap": _hours([1.0] * 4 + [0.01, 0.01] + [1.0] * 18),
}

# --- user agents and TLS client fingerprints -------------------------------------------------


def _fake_ja4(tag: str, i: int) -> str:
    """A JA4-shaped synthetic fingerprint, fixed for the vocabulary entry."""
    r = np.random.default_rng([0x7A5, i])
    a = "".join(f"{b:02x}" for b in r.integers(0, 256, 6))
    b = "".join(f"{b:02x}" for b in r.integers(0, 256, 6))
    return f"{tag}_{a}_{b}"


TLS_FINGERPRINTS: tuple[str, ...] = tuple(
    _fake_ja4(tag, i)
    for i, tag in enumerate(
        (
            "t13d1516h2",  # 0 chromium browsers (Chrome, Edge, Android Chrome, headless)
            "t13d1715h2",  # 1 firefox
            "t13d2014h2",  # 2 apple (Safari, iOS)
            "t13d1713h2",  # 3 okhttp (Android app)
            "t13d1312h2",  # 4 apple networking (iOS app)
            "t13d4907h2",  # 5 python (requests, httpx, the vendor SDK)
            "t13d1812h2",  # 6 node
            "t13d1209h2",  # 7 go net/http
            "t13d3111h1",  # 8 curl
            "t13d0907h2",  # 9 the careful operator's own harvester (custom cipher order)
        )
    )
)
TLS_CAREFUL_OPERATOR = 9


def _chrome(os_part: str, v: int) -> str:
    return (
        f"Mozilla/5.0 ({os_part}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Safari/537.36"
    )


USER_AGENTS: tuple[str, ...] = (
    # 0-2 chrome windows
    _chrome("Windows NT 10.0; Win64; x64", 146),
    _chrome("Windows NT 10.0; Win64; x64", 147),
    _chrome("Windows NT 10.0; Win64; x64", 148),
    # 3-4 chrome mac
    _chrome("Macintosh; Intel Mac OS X 10_15_7", 147),
    _chrome("Macintosh; Intel Mac OS X 10_15_7", 148),
    # 5-6 edge
    _chrome("Windows NT 10.0; Win64; x64", 147) + " Edg/147.0.0.0",
    _chrome("Windows NT 10.0; Win64; x64", 148) + " Edg/148.0.0.0",
    # 7-8 firefox
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:150.0) Gecko/20100101 Firefox/150.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:150.0) Gecko/20100101 Firefox/150.0",
    # 9 safari mac, 10-11 safari ios
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/19.3 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 19_3 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/19.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 19_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/19.4 Mobile/15E148 Safari/604.1",
    # 12-13 android chrome
    "Mozilla/5.0 (Linux; Android 16; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/147.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 16; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/148.0.0.0 Mobile Safari/537.36",
    # 14 ios app, 15 android app
    "FrontierChat/3.18.2 (iPhone; iOS 19.3; Scale/3.00)",
    "FrontierChat/3.18.1 (Linux; Android 16)",
    # 16-21 automation
    "python-requests/2.33.1",
    "python-httpx/0.28.1",
    "frontier-sdk-python/1.42.0",
    "node-fetch/3.3.2",
    "Go-http-client/2.0",
    "curl/8.14.1",
    # 22 headless chrome on linux (test rigs, scrapers, VM farms)
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/147.0.0.0 Safari/537.36",
)


@dataclass(frozen=True)
class BrowserProfile:
    name: str
    user_agents: tuple[int, ...]
    tls: int


BROWSER_PROFILES: tuple[BrowserProfile, ...] = (
    BrowserProfile("chrome_win", (0, 1, 2), 0),
    BrowserProfile("chrome_mac", (3, 4), 0),
    BrowserProfile("edge_win", (5, 6), 0),
    BrowserProfile("firefox", (7, 8), 1),
    BrowserProfile("safari_mac", (9,), 2),
    BrowserProfile("safari_ios", (10, 11), 2),
    BrowserProfile("android_chrome", (12, 13), 0),
    BrowserProfile("ios_app", (14,), 4),
    BrowserProfile("android_app", (15,), 3),
    BrowserProfile("python_requests", (16,), 5),
    BrowserProfile("python_httpx", (17,), 5),
    BrowserProfile("vendor_sdk", (18,), 5),
    BrowserProfile("node", (19,), 6),
    BrowserProfile("go", (20,), 7),
    BrowserProfile("curl", (21,), 8),
    BrowserProfile("headless_chrome", (22,), 0),
    # The careful operator's harvester: it claims to be the vendor SDK, but its TLS stack is its own.
    BrowserProfile("careful_harvester", (18,), TLS_CAREFUL_OPERATOR),
)
_PROFILE_POS = {p.name: i for i, p in enumerate(BROWSER_PROFILES)}


def browser_profile_index(name: str) -> int:
    return _PROFILE_POS[name]


# Browser share among people (by profile index; automation profiles get 0).
HUMAN_BROWSER_WEIGHTS: np.ndarray = np.zeros(len(BROWSER_PROFILES))
for _name, _w in (
    ("chrome_win", 0.30), ("chrome_mac", 0.12), ("edge_win", 0.08), ("firefox", 0.06),
    ("safari_mac", 0.08), ("safari_ios", 0.14), ("android_chrome", 0.12),
    ("ios_app", 0.05), ("android_app", 0.05),
):
    HUMAN_BROWSER_WEIGHTS[_PROFILE_POS[_name]] = _w
HUMAN_BROWSER_WEIGHTS /= HUMAN_BROWSER_WEIGHTS.sum()

# --- card BINs (synthetic) -------------------------------------------------------------------


def _make_bins() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    r = np.random.default_rng(20260422)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < 150 + 4 + 6:
        lead = r.choice(["4", "5", "37"], p=[0.6, 0.35, 0.05])
        tail = "".join(str(d) for d in r.integers(0, 10, 6 - len(lead)))
        b = lead + tail
        if lead == "5" and b[1] not in "12345":
            b = "5" + str(r.integers(1, 6)) + b[2:]
        if b not in seen:
            seen.add(b)
            out.append(b)
    return tuple(out[:150]), tuple(out[150:154]), tuple(out[154:])


COMMON_BINS, PREPAID_BINS, VIRTUAL_BINS = _make_bins()
_ranks = np.arange(1, len(COMMON_BINS) + 1, dtype=np.float64)
COMMON_BIN_WEIGHTS: np.ndarray = _ranks**-0.9 / (_ranks**-0.9).sum()
COMMON_BIN_COUNTRY: np.ndarray = np.random.default_rng(42).choice(
    len(COUNTRIES), len(COMMON_BINS), p=COUNTRY_WEIGHTS
).astype(np.int16)
VIRTUAL_BIN_COUNTRY: np.ndarray = np.array(
    [country_index(c) for c in ("US", "US", "GB", "SG", "US", "GB")], dtype=np.int16
)

# Syllables for made-up organisation, campus and operator domains.
SYLLABLES: tuple[str, ...] = (
    "ka", "ve", "lo", "tri", "nor", "mal", "sen", "qua", "dri", "fen", "ost", "bar", "cel",
    "mon", "tay", "rix", "pel", "dun", "sar", "vik", "lum", "ora", "zen", "hol", "bri", "gan",
    "tor", "mer", "ax", "ely", "pra", "sol", "vin", "cor", "del", "fal", "gri", "jun", "kor",
)

# --- additions for the drawn worlds (random and family tradecraft modes) -----------------------
# Appended after the classic vocabulary so that classic indices (and bytes) do not move.


def _more_bins(n: int, taken: set[str], seed: int) -> tuple[str, ...]:
    r = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        b = str(r.choice(["4", "5"])) + "".join(str(d) for d in r.integers(0, 10, 5))
        if b not in taken:
            taken.add(b)
            out.append(b)
    return tuple(out)


_TAKEN_BINS = set(COMMON_BINS + PREPAID_BINS + VIRTUAL_BINS)
# More prepaid and virtual-card issuers: benign people use them too in drawn worlds, so a BIN
# alone says little.
MORE_PREPAID_BINS: tuple[str, ...] = _more_bins(12, _TAKEN_BINS, 20260501)
MORE_VIRTUAL_BINS: tuple[str, ...] = _more_bins(12, _TAKEN_BINS, 20260502)
MORE_BIN_COUNTRY: np.ndarray = np.random.default_rng(43).choice(
    len(COUNTRIES), len(MORE_PREPAID_BINS) + len(MORE_VIRTUAL_BINS), p=COUNTRY_WEIGHTS
).astype(np.int16)

for _name, _shape in (
    # One 8-hour shift (a small crew working office-like hours, any time zone).
    ("one_shift", [0.03] * 8 + [1.0] * 8 + [0.03] * 8),
    # Three shifts with hand-over dips.
    ("three_shifts", [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.4] * 3),
    # A research or enterprise team: office hours, long afternoon.
    ("business", [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.7, 1.2, 1.3, 1.2,
                  0.9, 1.2, 1.3, 1.3, 1.2, 1.0, 0.6, 0.3, 0.2, 0.12, 0.06, 0.03]),
):
    HOUR_PROFILES[_name] = _hours(_shape)

MIXES["research"] = _mix(reasoning=25, coding=25, extraction=15, summarization=10, math=10, agentic=10, chat=5)
MIXES["saas"] = _mix(writing=30, summarization=25, extraction=20, translation=10, chat=15)

MODEL_PROFILES["distiller_reasoning"] = np.array([0.15, 0.0, 0.0, 0.85])
MODEL_PROFILES["distiller_broad"] = np.array([0.40, 0.30, 0.10, 0.20])
MODEL_PROFILES["research"] = np.array([0.45, 0.20, 0.05, 0.30])

# Names of the outside world's companies (made up).
ISP_NAMES: tuple[str, ...] = (
    "Comnet Broadband", "Telvia Home", "Fibrelink", "Norvox Cable", "Altena Telecom",
    "Bluewire Internet", "Kestra Fiber", "Omnitel Residential", "Panora Net", "Quillnet",
    "Rivercom", "Sunline DSL",
)
CLOUD_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("Nimbus Cloud", "nimbuscloud.com"), ("Stratus Compute", "stratuscompute.net"),
    ("Cirrus Hosting Platform", "cirrusplatform.io"),
)
HOSTING_NAMES: tuple[str, ...] = ("Hostwerk", "Serverhaus", "Racknode", "Voltvps", "Byteyard")
PROXY_PROVIDER_NAMES: tuple[str, ...] = ("Proxyloom", "Gatewise Proxies", "Resiplex")
VPN_NAMES: tuple[str, ...] = ("Tunnelbear Pro", "SafeRoute VPN", "Veilnet", "Hidewire", "Nordvault")
CARRIER_NAMES: dict[str, str] = {"US": "Verilink Mobile", "IN": "Jiyo Telecom", "GB": "Threeway Mobile",
                                 "BR": "Vivara Celular"}
WEBMAIL_OWNERS: dict[str, str] = {
    "gmail.com": "Alphabyte Mail", "outlook.com": "Macrosoft Mail", "hotmail.com": "Macrosoft Mail",
    "yahoo.com": "Yahoot", "icloud.com": "Pear Cloud", "proton.me": "Proton Mailworks",
}
# Words for names: operators' true names, investigators' labels, organisations.
TRUTH_WORDS: tuple[str, ...] = (
    "ALBATROSS", "AVOCET", "BITTERN", "BUNTING", "CORMORANT", "CRANE", "CURLEW", "DUNLIN",
    "EGRET", "EIDER", "FULMAR", "GANNET", "GODWIT", "GREBE", "HARRIER", "IBIS", "JACANA",
    "KITE", "LAPWING", "MERLIN", "NIGHTJAR", "ORIOLE", "PETREL", "PIPIT", "PUFFIN", "RAIL",
    "REDSHANK", "SANDERLING", "SHRIKE", "SKUA", "SNIPE", "STILT", "SWIFT", "TEAL", "TERN",
    "TURNSTONE", "WAGTAIL", "WHIMBREL", "WIGEON", "WREN",
)
LABEL_WORDS: tuple[str, ...] = (
    "AMBER", "BASALT", "BIRCH", "CEDAR", "COBALT", "COPPER", "DUNE", "EMBER", "FJORD",
    "GLACIER", "GRANITE", "HAZEL", "INDIGO", "JASPER", "JUNIPER", "LICHEN", "MAPLE",
    "MARBLE", "NICKEL", "OBSIDIAN", "ONYX", "QUARTZ", "RAVINE", "SAFFRON", "SLATE",
    "SPRUCE", "TUNDRA", "UMBER", "WILLOW", "ZINC",
)
LABEL_SOURCES: tuple[str, ...] = (
    "abuse-report-2026-05", "payments-review-2026-05", "threat-intel-2026-04",
    "partner-tipoff-2026-05", "chargeback-review-2026-06",
)
ORG_SUFFIXES: dict[str, tuple[str, ...]] = {
    "ai_lab": ("AI", "Labs", "Intelligence", "Research", "Machines"),
    "enterprise": ("Systems", "Group", "Industries", "Holdings", "Analytics"),
    "reseller": ("Cloud", "Platform", "Apps", "Suite"),
}
