"""Operators of drawn worlds, one builder per tradecraft family.

Why per family: each family hides in a different way (cards shared in rings, residential proxy
pools that run through real homes, cloned datacenter VMs, emulators behind carrier NAT, careful
operators that share nothing, VPN mixes, crews that share only a BIN range and templates,
hijacked aged accounts). Every builder reads its knobs from the drawn plan
(tradecraft.OperatorPlan) and links accounts to identifiers through the population Builder; it
draws no knob of its own, so the manifest records everything that shaped the operator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sybilgraph.generate import vocab
from sybilgraph.generate.config import CAMPAIGN_END, CAMPAIGN_START, DAY_MS, HOUR_MS
from sybilgraph.generate.ids import CLOUD_OCTETS
from sybilgraph.generate.population import (
    KIND_CONSUMER,
    KIND_FAKE,
    KIND_HOUSEHOLD,
    PREPAID_BIN_INDEX,
    STATUS_ACTIVE,
    STATUS_SUSPENDED,
    VIRTUAL_BIN_INDEX,
    Builder,
    Infra,
    hour_index,
    mix_index,
    model_index,
    profile_index,
)
from sybilgraph.generate.tradecraft import Crew, Identity, Lifecycle, OperatorPlan, Schedule
from sybilgraph.generate.tradecraft import Infra as InfraPlan

__all__ = ["CLOUD_PROVIDER_OCTETS", "Network", "OperatorBuild", "build_operator", "next_prime"]

# The cloud providers' /8s (vocab.CLOUD_PROVIDERS in order): who owns a datacenter address.
CLOUD_PROVIDER_OCTETS: tuple[tuple[int, ...], ...] = ((3, 18, 52, 54), (34, 35), (13,))
assert sorted(o for g in CLOUD_PROVIDER_OCTETS for o in g) == sorted(CLOUD_OCTETS.tolist())
# Hosts per datacenter /24 an operator rents.
DC_HOSTS = (40, 200)


@dataclass
class Network:
    """A /24 handed out whole in a drawn world, for ip_owners: net (uint32 of .0), owner, kind."""

    net: int
    owner: str
    kind: str


@dataclass
class OperatorBuild:
    """What building one operator produced (for the manifest, leaks and tests)."""

    index: int
    personas: np.ndarray  # persona indices of its accounts (operator personas for takeovers)
    crew: np.ndarray  # crew number per persona (0 unless sub_crews)
    details: dict[str, object] = field(default_factory=dict)
    takeover_time: np.ndarray | None = None  # per persona, epoch ms of the takeover


@dataclass
class Context:
    """What operator builders need from the world around them."""

    b: Builder
    infra: Infra
    networks: list[Network]
    vol_pool: int
    org_index: int
    benign_homes: np.ndarray  # IP registry indices of benign people's home lines (IPv4)
    hijackable: np.ndarray  # persona indices of benign people that may be hijacked


def next_prime(n: int) -> int:
    """The smallest prime >= n (pool sizes are prime so any stride walks a distinct subset)."""
    n = max(2, n)
    while any(n % d == 0 for d in range(2, int(math.isqrt(n)) + 1)):
        n += 1
    return n


# --- accounts ---------------------------------------------------------------------------------


def _window(plan_life: Lifecycle) -> tuple[int, int]:
    """The operator's working window [A, Z)."""
    a = CAMPAIGN_START + plan_life.active_from_day * DAY_MS
    z = CAMPAIGN_END - plan_life.active_until_gap_days * DAY_MS
    return a, max(z, a + 10 * DAY_MS)


def _created(b: Builder, n: int, life: Lifecycle) -> np.ndarray:
    r = b.rng
    a, z = _window(life)
    first = a - life.creation_lead_days * DAY_MS
    last = min(first + life.creation_days * DAY_MS, z - 3 * DAY_MS)
    burst_at = np.sort(r.integers(first, max(first + 1, last), life.bursts))
    fresh = burst_at[r.integers(0, life.bursts, n)] + (r.random(n) * life.burst_hours * HOUR_MS).astype(np.int64)
    months = r.uniform(life.aged_months[0], life.aged_months[1], n)
    aged = a - (months * 30 * DAY_MS).astype(np.int64)
    return np.where(r.random(n) < life.aged_share, aged, fresh)


def _life(b: Builder, created: np.ndarray, life: Lifecycle) -> dict[str, np.ndarray]:
    """Activity window and status; churned (burner) accounts live 1-2 days."""
    r = b.rng
    n = len(created)
    a, z = _window(life)
    ramp = (r.random(n) * 3 * DAY_MS).astype(np.int64)
    start = np.maximum(created + r.integers(HOUR_MS, DAY_MS, n), a + ramp)
    start = np.minimum(start, z - 2 * DAY_MS)
    start = np.maximum(start, created + HOUR_MS)
    if life.rotate_days is None:
        end = z - (r.random(n) * 12 * HOUR_MS).astype(np.int64)
    else:
        end = start + r.integers(life.rotate_days[0], life.rotate_days[1] + 1, n) * DAY_MS
    end = np.clip(end, start + DAY_MS // 2, z)
    status = np.full(n, STATUS_ACTIVE, dtype=np.int8)
    suspended = r.random(n) < life.suspended_share
    end[suspended] = start[suspended] + (
        (end[suspended] - start[suspended]) * r.uniform(0.3, 0.95, suspended.sum())
    ).astype(np.int64)
    status[suspended] = STATUS_SUSPENDED
    churn = r.random(n) < life.churn_share
    end[churn] = start[churn] + (r.uniform(1.0, 2.0, churn.sum()) * DAY_MS).astype(np.int64)
    status[churn] = np.where(r.random(churn.sum()) < 0.5, STATUS_SUSPENDED, STATUS_ACTIVE)
    return {"created": created, "start": start, "end": end, "status": status, "churn": churn}


def _domains(b: Builder, n: int, share: float, own: np.ndarray) -> np.ndarray:
    """``share`` of the accounts on the operator's own domains or its few throwaway-mail
    services (``own``), the rest on big webmail."""
    r = b.rng
    if not len(own) or share <= 0:
        return b.webmail(n)
    return np.where(r.random(n) < share, own[r.integers(0, len(own), n)], b.webmail(n)).astype(np.int32)


def operator_domains(b: Builder, email: str, count: int) -> np.ndarray:
    """The domains an operator registers (own_domains) or the 1-3 throwaway services it scripts."""
    if email == "own_domains":
        return b.made_up_domains(count, ("com", "net", "io", "email", "xyz"))
    k = max(1, min(3, count))
    picks = b.rng.choice(len(vocab.DISPOSABLE_DOMAINS), k, replace=False)
    return np.array([b.domain(vocab.DISPOSABLE_DOMAINS[i]) for i in sorted(picks.tolist())], dtype=np.int32)


def _countries(b: Builder, n: int, ident: Identity) -> np.ndarray:
    if not ident.countries:
        return b.countries(n)
    codes = np.array([vocab.country_index(c) for c in ident.countries], dtype=np.int16)
    return codes[b.rng.integers(0, len(codes), n)]


@dataclass
class _Pool:
    start: int
    size: int


def _template_pool(b: Builder, plan: OperatorPlan) -> _Pool:
    w = plan.workload
    size = next_prime(max(w.subset + 1, round(w.pool_at_one * math.sqrt(b.scale))))
    tpl = b.add_templates(b.categories(np.full(size, mix_index(w.mix))))
    return _Pool(int(tpl[0]), size)


def _accounts(
    b: Builder,
    ctx: Context,
    plan: OperatorPlan,
    op: int,
    group: int,
    pool: _Pool,
    n: int,
    life_plan: Lifecycle,
    schedule: Schedule,
    share: float,
    own_domains: np.ndarray,
    life: dict[str, np.ndarray] | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Add n accounts of the operator (or one crew of it) with its workload and schedule."""
    r = b.rng
    w = plan.workload
    if life is None:
        life = _life(b, _created(b, n, life_plan), life_plan)
    churn = life.pop("churn", np.zeros(n, dtype=bool))
    country = _countries(b, n, plan.identity)
    if schedule.human and schedule.tz_spread >= 3 and not plan.identity.countries:
        tz = vocab.COUNTRY_TZ[country] + r.integers(-1, 2, n)  # people in their own countries' hours
    else:
        tz = schedule.tz + r.integers(-schedule.tz_spread, schedule.tz_spread + 1, n)
    window = min(w.subset, pool.size)
    stride = r.integers(1, pool.size, n) if w.subset_mode == "scattered" and pool.size > 1 else 1
    span = np.maximum(life["end"] - life["start"], 1) / DAY_MS
    weight = b.lognormal(n, w.volume_sigma) * np.where(churn, np.minimum(1.0, span / 10.0) ** 0.5, 1.0)
    cols: dict[str, object] = dict(
        kind=KIND_FAKE,
        group=group,
        op=op,
        org=ctx.org_index,
        country=country,
        domain=_domains(b, n, share, own_domains),
        hour_profile=hour_index(schedule.hour_profile),
        tz=np.clip(tz, -12, 14),
        human=schedule.human,
        mix=mix_index(w.mix),
        model_profile=model_index(w.model_profile),
        in_shift=r.normal(0.3, 0.15, n),
        out_shift=r.normal(1.0, 0.2, n),
        p_pop=w.p_popular,
        p_group=w.p_pool,
        pool_start=pool.start,
        pool_len=pool.size,
        pool_window=window,
        pool_offset=r.integers(0, pool.size, n),
        pool_stride=stride,
        p_web=w.p_web,
        ip_skew=1.0,
        n_keys=r.integers(1, w.max_keys + 1, n),
        vol_pool=ctx.vol_pool,
        vol_weight=weight,
        sess_extra=1.0 if not schedule.human else 2.0,
        **life,
    )
    if extra:
        cols.update(extra)
    acct = b.add_accounts(n, **cols)  # type: ignore[arg-type]
    return acct, {"churn": churn, **life}


# --- cards --------------------------------------------------------------------------------------


def operator_bins(b: Builder, ident: Identity) -> np.ndarray:
    """The BIN indices an operator's cards come from."""
    r = b.rng
    if ident.bin_kind == "common":
        options = np.arange(30)  # the big issuers everybody's cards come from
    elif ident.bin_kind == "prepaid":
        options = PREPAID_BIN_INDEX
    else:
        options = VIRTUAL_BIN_INDEX
    return r.choice(options, min(ident.n_bins, len(options)), replace=False)


def _added(b: Builder, acct: np.ndarray) -> np.ndarray:
    """When a card was added: between sign-up and first use; a hijacker's within a day of T."""
    created = b.column("created")[acct]
    start = b.column("start")[acct]
    hijacked = b.column("owner")[acct] >= 0
    lo = np.where(hijacked, start, created)
    span = np.where(hijacked, DAY_MS, np.maximum(start - created, HOUR_MS))
    return lo + (b.rng.random(len(acct)) * span).astype(np.int64)


def own_cards(b: Builder, acct: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """One card per account from the given BINs."""
    cards = b.add_instruments(bins[b.rng.integers(0, len(bins), len(acct))])
    b.link("inst", acct, cards, _added(b, acct))
    return cards


def shared_cards(b: Builder, acct: np.ndarray, bins: np.ndarray, per_card: tuple[int, int]) -> np.ndarray:
    """Cards each loaded onto per_card[0]..per_card[1] of the given accounts; returns the card of
    each account."""
    r = b.rng
    sizes: list[int] = []
    while sum(sizes) < len(acct):
        sizes.append(int(r.integers(per_card[0], per_card[1] + 1)))
    owner = np.repeat(np.arange(len(sizes)), sizes)[: len(acct)]
    cards = b.add_instruments(bins[r.integers(0, len(bins), len(sizes))])
    card_of = cards[owner[r.permutation(len(acct))]]
    b.link("inst", acct, card_of, _added(b, acct))
    return card_of


# --- networks -----------------------------------------------------------------------------------


def dc_blocks(ctx: Context, k: int, host: str, owner_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """k datacenter /24s (a big cloud provider's or a hosting company's) with some hosts in each;
    returns (IP registry indices, the /24 nets)."""
    b = ctx.b
    r = b.rng
    if host == "big_cloud":
        provider = int(r.integers(0, len(CLOUD_PROVIDER_OCTETS)))
        nets = b.space.blocks(k, np.array(CLOUD_PROVIDER_OCTETS[provider], dtype=np.uint32))
        owner, kind = owner_name or vocab.CLOUD_PROVIDERS[provider][0], "datacenter"
    else:
        nets = b.space.blocks(k)
        owner, kind = owner_name or str(r.choice(vocab.HOSTING_NAMES)), "datacenter"
    for net in nets:
        ctx.networks.append(Network(int(net), owner, kind))
    addr, _ = b.space.hosts(nets, r.integers(DC_HOSTS[0], DC_HOSTS[1] + 1, k))
    return b.add_ipv4(addr), nets


def _proxy_pool(ctx: Context, picks: int, ip: InfraPlan) -> tuple[np.ndarray, np.ndarray]:
    """A residential proxy pool sized so each exit serves ~accounts_per_exit of the operator's
    accounts; a share of the exits are real benign homes. Returns (pool, which are real homes)."""
    b = ctx.b
    r = b.rng
    size = max(2, round(picks / ip.accounts_per_exit))
    n_real = min(len(ctx.benign_homes), round(ip.home_overlap * size))
    n_dc = round(ip.dc_proxy_share * (size - n_real))
    real = r.choice(ctx.benign_homes, n_real, replace=False) if n_real else np.empty(0, dtype=np.int64)
    fresh = b.add_ipv4(b.space.homes(size - n_real - n_dc))
    parts = [real, fresh]
    if n_dc:
        nets = b.space.blocks(max(1, math.ceil(n_dc / 200)))
        provider = str(r.choice(vocab.PROXY_PROVIDER_NAMES))
        for net in nets:
            ctx.networks.append(Network(int(net), provider, "proxy"))
        counts = np.full(len(nets), n_dc // len(nets))
        counts[: n_dc % len(nets)] += 1
        addr, _ = b.space.hosts(nets, counts)
        parts.append(b.add_ipv4(addr))
    pool = np.concatenate(parts).astype(np.int64)
    is_real = np.zeros(len(pool), dtype=bool)
    is_real[:n_real] = True
    return pool, is_real


def _link_each(b: Builder, acct: np.ndarray, pool: np.ndarray, k_range: tuple[int, int], rank0: int = 0) -> None:
    k = b.rng.integers(k_range[0], k_range[1] + 1, len(acct))
    rep, ips, j = b.pick_each(acct, pool, k)
    b.link("ip", rep, ips, rank0 + j)


def _networks(ctx: Context, acct: np.ndarray, ip: InfraPlan, details: dict[str, object]) -> None:
    b = ctx.b
    r = b.rng
    n = len(acct)
    if ip.network == "residential_proxy":
        k = r.integers(ip.exits_per_account[0], ip.exits_per_account[1] + 1, n)
        pool, real = _proxy_pool(ctx, int(k.sum()), ip)
        rep, ips, j = b.pick_each(acct, pool, k)
        b.link("ip", rep, ips, j)
        details["proxy_exits"] = int(len(pool))
        details["proxy_exits_real_homes"] = int(real.sum())
    elif ip.network == "own_lines":
        lines = b.add_ipv4(b.space.homes(max(1, round(ip.own_lines * math.sqrt(b.scale)))))
        _link_each(b, acct, lines, ip.exits_per_account)
        details["own_lines"] = int(len(lines))
    elif ip.network == "datacenter":
        pool, nets = dc_blocks(ctx, max(1, ip.dc_blocks), ip.dc_host)
        _link_each(b, acct, pool, ip.exits_per_account)
        details["dc_nets"] = [int(x) for x in nets]
    elif ip.network == "carrier":
        exits = ctx.infra.carrier_exits[vocab.country_index(ip.carrier)]
        _link_each(b, acct, exits, ip.exits_per_account)
    elif ip.network == "vpn":
        exits = ctx.infra.vpn_exits[ip.vpn_provider % len(ctx.infra.vpn_exits)]
        on_vpn = r.random(n) < ip.vpn_share
        on_dc = ~on_vpn | (r.random(n) < ip.dc_share)
        _link_each(b, acct[on_vpn], exits, ip.exits_per_account)
        pool, nets = dc_blocks(ctx, max(1, ip.dc_blocks), ip.dc_host)
        _link_each(b, acct[on_dc], pool, (1, 4), rank0=10)
        details["dc_nets"] = [int(x) for x in nets]
    elif ip.network == "sticky_home":
        k = r.integers(ip.exits_per_account[0], ip.exits_per_account[1] + 1, n)
        lines = b.add_ipv4(b.space.homes(int(k.sum())))
        rep = np.repeat(acct, k)
        b.link("ip", rep, lines, np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k))
        b.update("ip_skew", acct, 3.0)  # a sticky line: almost every request from the first
    else:  # pragma: no cover - tradecraft draws only the networks above
        raise KeyError(ip.network)


def _private_tls(b: Builder) -> str:
    r = b.rng
    head = f"t13d{int(r.integers(8, 60)):02d}{int(r.integers(5, 20)):02d}h{int(r.choice([1, 2]))}"
    return f"{head}_{r.bytes(6).hex()}_{r.bytes(6).hex()}"


def _client(b: Builder, client: str, private_ua: str | None = None) -> tuple[int, int]:
    """(UA index, TLS index) of a client: a vocabulary profile, or a private TLS stack."""
    if client == "private":
        ua_text = private_ua or str(
            b.rng.choice(["frontier-sdk-python/1.42.0", "python-requests/2.33.1", "aiohttp/3.12.4", "okhttp/4.12.0"])
        )
        if ua_text in vocab.USER_AGENTS:  # claims to be a common client; only its TLS is its own
            _, tls = b.private_client(_private_tls(b), None)
            return vocab.USER_AGENTS.index(ua_text), tls
        return b.private_client(_private_tls(b), ua_text)
    profile = vocab.BROWSER_PROFILES[profile_index(client)]
    return int(profile.user_agents[0]), int(profile.tls)


def _devices(ctx: Context, acct: np.ndarray, ip: InfraPlan, details: dict[str, object]) -> None:
    b = ctx.b
    r = b.rng
    n = len(acct)
    if ip.device in ("anti_detect", "own_common") or (ip.device == "automation" and ip.client != "private"):
        b.link("dev", acct, b.add_devices(np.full(n, profile_index(ip.client))), 0)
    elif ip.device == "own_private":
        ua, tls = _client(b, "private")
        b.link("dev", acct, b.add_client_devices(n, ua, tls), 0)
        details["private_tls"] = tls
    elif ip.device == "emulator":
        lo, hi = ip.accounts_per_device
        sizes: list[int] = []
        while sum(sizes) < n:
            sizes.append(int(r.integers(lo, hi + 1)))
        phones = b.add_devices(np.full(len(sizes), profile_index("android_app")))
        owner = np.repeat(np.arange(len(sizes)), sizes)[:n]
        b.link("dev", acct, phones[owner[r.permutation(n)]], 0)
        details["emulators"] = len(sizes)
    elif ip.device == "vm_clone":
        _vm_farm(ctx, acct, ip, details)
    else:  # pragma: no cover
        raise KeyError(ip.device)


def _vm_farm(ctx: Context, acct: np.ndarray, ip: InfraPlan, details: dict[str, object]) -> None:
    """k VMs, each one cloned device fingerprint on 1-3 IPs of the shared datacenter pool; every
    VM runs the same client (one TLS stack and user agent)."""
    b = ctx.b
    r = b.rng
    n = len(acct)
    k = min(ip.vms, n)
    ua, tls = _client(b, ip.client)
    vms = b.add_client_devices(k, ua, tls)
    vm_of = r.permutation(np.arange(n) % k)
    b.link("dev", acct, vms[vm_of], 0)
    pool, nets = dc_blocks(ctx, max(1, ip.dc_blocks), ip.dc_host)
    n_ips = r.integers(ip.ips_per_vm[0], ip.ips_per_vm[1] + 1, k)
    vm_ips = [pool[r.choice(len(pool), int(c), replace=False)] for c in n_ips]
    for v in range(k):
        members = acct[vm_of == v]
        rep = np.repeat(members, len(vm_ips[v]))
        b.link("ip", rep, np.tile(vm_ips[v], len(members)), np.tile(np.arange(len(vm_ips[v])), len(members)))
    details["vms"] = k
    details["vm_of_persona"] = {int(a): int(v) for a, v in zip(acct, vm_of, strict=True)}
    details["dc_nets"] = [int(x) for x in nets]
    details["client_tls"] = tls


def _cards(ctx: Context, acct: np.ndarray, ip: InfraPlan, bins: np.ndarray, crew: bool) -> None:
    b = ctx.b
    r = b.rng
    fam = ip.family
    if fam == "card_ring":
        shared_cards(b, acct, bins, ip.accounts_per_card)
    elif fam in ("proxy_farm", "careful"):
        own_cards(b, acct, bins)
    elif fam == "vm_farm":
        covered = r.random(len(acct)) < ip.card_coverage
        own_cards(b, acct[covered], bins)
    elif fam == "carrier_nat":
        covered = acct[r.random(len(acct)) < ip.card_coverage]
        if len(covered):
            lo, hi = ip.accounts_per_card
            shared_cards(b, covered, bins, (max(1, round(lo * math.sqrt(b.scale))), max(2, round(hi * math.sqrt(b.scale)))))
    elif fam == "vpn_mixed":
        prepaid = r.random(len(acct)) < ip.card_coverage
        if prepaid.any():
            shared_cards(b, acct[prepaid], bins, ip.accounts_per_card)
        # The rest on virtual cards: a few virtual issuers (a crew keeps to the shared range).
        own_cards(b, acct[~prepaid], bins if crew else r.choice(VIRTUAL_BIN_INDEX, 3, replace=False))
    elif fam == "takeover":
        adds = acct[r.random(len(acct)) < ip.takeover_adds_card]
        if len(adds):
            shared_cards(b, adds, bins, (3, 12))
    else:  # pragma: no cover
        raise KeyError(fam)


def _infrastructure(
    ctx: Context, acct: np.ndarray, ip: InfraPlan, bins: np.ndarray, details: dict[str, object], crew: bool = False
) -> None:
    if ip.device != "vm_clone":
        _networks(ctx, acct, ip, details)
    _devices(ctx, acct, ip, details)
    _cards(ctx, acct, ip, bins, crew)


# --- operators ----------------------------------------------------------------------------------


def build_operator(ctx: Context, plan: OperatorPlan, op: int) -> OperatorBuild:
    """Add one operator's accounts, identifiers and workload to the population."""
    b = ctx.b
    group = b.add_named_group(plan.truth, distillation=True)
    pool = _template_pool(b, plan)
    bins = operator_bins(b, plan.identity)
    own_domains = operator_domains(b, plan.identity.email, plan.identity.own_domains)
    share = plan.identity.own_domain_share if plan.identity.email == "own_domains" else plan.identity.disposable_share
    details: dict[str, object] = {"bins": [int(x) for x in bins], "template_pool": pool.size}
    if plan.family == "takeover":
        return _takeover(ctx, plan, op, group, pool, bins, details)
    if plan.family == "sub_crews":
        return _sub_crews(ctx, plan, op, group, pool, bins, details)
    acct, life = _accounts(
        b, ctx, plan, op, group, pool, plan.accounts, plan.lifecycle, plan.schedule, share, own_domains
    )
    _infrastructure(ctx, acct, plan.infra, bins, details)
    details["churned"] = int(life["churn"].sum())
    return OperatorBuild(op, acct, np.zeros(len(acct), dtype=np.int64), details)


def _sub_crews(
    ctx: Context, plan: OperatorPlan, op: int, group: int, pool: _Pool, bins: np.ndarray, details: dict[str, object]
) -> OperatorBuild:
    """Crews that share nothing but the BIN range and the template pool."""
    b = ctx.b
    sizes = _crew_sizes(plan.accounts, plan.crews)
    parts, crew_of = [], []
    churned = 0
    for c, (crew, n) in enumerate(zip(plan.crews, sizes, strict=True)):
        own = operator_domains(b, crew.email, plan.identity.own_domains)
        share = 0.8 if crew.email == "own_domains" else crew.disposable_share
        acct, life = _accounts(b, ctx, plan, op, group, pool, n, crew.lifecycle, crew.schedule, share, own)
        crew_details: dict[str, object] = {}
        _infrastructure(ctx, acct, crew.infra, bins, crew_details, crew=True)
        details[f"crew_{c}"] = {"family": crew.infra.family, "accounts": n, **crew_details}
        parts.append(acct)
        crew_of.append(np.full(n, c))
        churned += int(life["churn"].sum())
    details["churned"] = churned
    return OperatorBuild(op, np.concatenate(parts), np.concatenate(crew_of), details)


def _crew_sizes(n: int, crews: tuple[Crew, ...]) -> list[int]:
    shares = np.array([c.share for c in crews])
    sizes = np.maximum(4, np.floor(shares / shares.sum() * n)).astype(int)
    sizes[int(np.argmax(sizes))] += max(0, n - int(sizes.sum()))
    return [int(x) for x in sizes]


def _takeover(
    ctx: Context, plan: OperatorPlan, op: int, group: int, pool: _Pool, bins: np.ndarray, details: dict[str, object]
) -> OperatorBuild:
    """Hijacked aged accounts: each had a benign life until its takeover time T; from T the
    operator's devices, networks, templates and hours (a second persona of the same account)."""
    b = ctx.b
    r = b.rng
    a, z = _window(plan.lifecycle)
    cand = ctx.hijackable
    kind = b.column("kind")[cand]
    created = b.column("created")[cand]
    start = b.column("start")[cand]
    end = b.column("end")[cand]
    weight = b.column("vol_weight")[cand]
    latest_t = z - 3 * DAY_MS
    ok = (created < a - 30 * DAY_MS) & (end >= latest_t) & (weight > 0) & (start < a - 7 * DAY_MS)
    from_hh = ok & (kind == KIND_HOUSEHOLD)
    solo = ok & (kind == KIND_CONSUMER)
    n = min(plan.accounts, int(ok.sum()))
    n_hh = min(int(from_hh.sum()), round(plan.infra.takeover_from_households * n))
    victims = np.concatenate(
        [
            r.choice(cand[from_hh], n_hh, replace=False),
            r.choice(cand[solo], min(int(solo.sum()), n - n_hh), replace=False),
        ]
    ).astype(np.int64)
    n = len(victims)
    t = r.integers(a, latest_t, n)
    # The benign life ends at T; its volume shrinks with it.
    old_start = b.column("start")[victims]
    old_end = b.column("end")[victims]
    b.update("end", victims, t)
    b.update("vol_weight", victims, b.column("vol_weight")[victims] * (t - old_start) / np.maximum(old_end - old_start, 1))
    life_plan = plan.lifecycle
    end = np.where(
        r.random(n) < life_plan.suspended_share,
        t + ((z - t) * r.uniform(0.3, 0.95, n)).astype(np.int64),
        z - (r.random(n) * 12 * HOUR_MS).astype(np.int64),
    )
    status = np.where(end < z - 12 * HOUR_MS, STATUS_SUSPENDED, STATUS_ACTIVE).astype(np.int8)
    b.update("status", victims, status)  # the account's status is the hijacker's doing
    life = {"created": b.column("created")[victims], "start": t, "end": np.maximum(end, t + DAY_MS), "status": status}
    acct, _ = _accounts(
        b, ctx, plan, op, group, pool, n, life_plan, plan.schedule, 0.0, np.empty(0, dtype=np.int32),
        life=life, extra={"owner": victims, "domain": b.column("domain")[victims], "country": b.column("country")[victims]},
    )
    _infrastructure(ctx, acct, plan.infra, bins, details)
    details["from_households"] = n_hh
    details["takeover_window"] = [int(a), int(latest_t)]
    return OperatorBuild(op, acct, np.zeros(n, dtype=np.int64), details, takeover_time=t)
