"""The population of a drawn world (``--tradecraft random`` or a family list).

Why a second assembly path beside population.build_population: the classic world must stay
byte-identical, while a drawn world adds what the classic one lacks: rates drawn per seed,
large open customers, SaaS platforms, organisations with open accounts of their own and the
trails their operators leave, the owners of every network, and operators of any family. The
benign segments are the classic functions run with drawn rates; each stage draws from its own
seeded stream, so an operator's knobs or an extra look-alike do not shift anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sybilgraph.generate import vocab
from sybilgraph.generate.config import BENIGN, BENIGN_END, DAY_MS, ms, scaled
from sybilgraph.generate.families import (
    CLOUD_PROVIDER_OCTETS,
    Context,
    Network,
    OperatorBuild,
    build_operator,
    dc_blocks,
)
from sybilgraph.generate.ids import HOME_OCTETS, bundle_salt, salted_keys
from sybilgraph.generate.population import (
    ALL_BINS,
    KIND_CAMPUS,
    KIND_CONSUMER,
    KIND_CUSTOMER,
    KIND_DEVELOPER,
    KIND_HOUSEHOLD,
    KIND_ORG,
    KIND_TENANT,
    PREPAID_BIN_INDEX,
    VIRTUAL_BIN_INDEX,
    Builder,
    Infra,
    Population,
    Sites,
    add_campuses,
    add_consumers,
    add_developers,
    add_households,
    add_orgs,
    add_popular_templates,
    assemble,
    benign_lifecycle,
    build_infra,
    expand_links,
    hour_index,
    mix_index,
    model_index,
    person_columns,
    personal_templates,
    profile_index,
)
from sybilgraph.generate.tradecraft import LookAlikes, OrgPlan, World

__all__ = ["Leak", "OrgEntry", "OrgAssets", "WorldRecord", "build_world_population"]

NS_ORG = 8
# Volume pools of a drawn world (operators take 10 + their index).
POOL_PEOPLE, POOL_DEVELOPERS, POOL_CUSTOMERS, POOL_TENANTS, POOL_OPERATOR0 = 0, 1, 2, 3, 10
# Classic per-account means at scale 1.0: 13.5M requests over ~218,700 people, 4.5M over 1,320
# developers. Drawn worlds scale them by LookAlikes.benign_requests_factor.
PERSON_REQUESTS = BENIGN.interactions * (1 - BENIGN.developer_volume_share) / (BENIGN.accounts * (1 - BENIGN.developer_share))
DEVELOPER_REQUESTS = BENIGN.interactions * BENIGN.developer_volume_share / (BENIGN.accounts * BENIGN.developer_share)
TLDS = {"ai_lab": ("ai", "io", "com"), "enterprise": ("com", "de", "co.uk", "net"), "reseller": ("io", "app", "com")}


@dataclass
class OrgEntry:
    """An organisation of the world (listed in organisations.parquet or not)."""

    org_id: str
    name: str
    country: str
    domains: list[str]
    kind: str  # ai_lab | enterprise | university | reseller | cloud_provider | other
    listed: bool
    role: str  # operator_org | decoy_lab | large_customer | organisation | university | saas_platform | provider
    group: str | None = None  # its open accounts' group in truth (ORG-* / CUST-*)

    @property
    def reference(self) -> str:
        """How data refers to it: its org_id when listed, else its name (as a network owner)."""
        return self.org_id if self.listed else self.name


@dataclass
class OrgAssets:
    """An organisation's own identifiers, which its operators' accounts may touch (leaks)."""

    domain: int
    office_ips: np.ndarray
    tenancy_ips: np.ndarray
    cards: np.ndarray
    devices: np.ndarray
    members: np.ndarray


@dataclass
class Leak:
    persona: int
    kind: str  # card | device | office | domain | cloud
    item: int  # instrument / device / IP registry index, or domain index


@dataclass
class WorldRecord:
    """What the table writers and the manifest need beyond the population arrays."""

    world: World
    orgs: list[OrgEntry]
    networks: list[Network]
    builds: list[OperatorBuild]
    leaks: dict[int, list[Leak]]
    decoys: dict[int, list[dict[str, str]]]
    salt: str = ""  # names the bundle in its row ids (ids.bundle_salt)
    families: dict[str, dict[str, int]] = field(default_factory=dict)
    large_customers: list[dict[str, object]] = field(default_factory=list)
    saas_platforms: list[dict[str, object]] = field(default_factory=list)


class _Registry:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.entries: list[OrgEntry] = []

    def add(self, name: str, country: str, domains: list[str], kind: str, listed: bool, role: str) -> int:
        key = salted_keys(self.seed, NS_ORG, np.array([len(self.entries)]))[0]
        self.entries.append(OrgEntry(f"org_{int(key):016x}", name, country, domains, kind, listed, role))
        return len(self.entries) - 1


def _stage(b: Builder, seed: int, *stream: int) -> None:
    b.rng = np.random.default_rng([seed, *stream])


def build_world_population(world: World) -> Population:
    """Draw the whole population of a drawn world. Deterministic in (seed, scale, mode)."""
    seed, scale = world.seed, world.scale
    look = world.lookalikes
    b = Builder(seed, scale, world.rates)
    b.pool_totals = {}
    reg = _Registry(seed)
    networks: list[Network] = []
    # Planned organisations first, so OperatorPlan.organisation indexes the registry.
    for plan in world.organisations:
        tld = TLDS[plan.kind][len(plan.domain_word) % len(TLDS[plan.kind])]
        reg.add(plan.name, plan.country, [f"{plan.domain_word}.{tld}"], plan.kind, plan.listed, plan.role)
    providers = [reg.add(n, "US", [d], "cloud_provider", True, "provider") for n, d in vocab.CLOUD_PROVIDERS]
    webmail_orgs: dict[str, int] = {}
    for domain, owner in vocab.WEBMAIL_OWNERS.items():
        if owner not in {reg.entries[i].name for i in webmail_orgs.values()}:
            webmail_orgs[domain] = reg.add(owner, "US", [domain], "other", True, "provider")
        else:
            idx = next(i for i in webmail_orgs.values() if reg.entries[i].name == owner)
            reg.entries[idx].domains.append(domain)
            webmail_orgs[domain] = idx

    _stage(b, seed, 110)
    infra = build_infra(b)
    _infra_networks(infra, networks)
    popular_start, popular_cdf = add_popular_templates(b)
    rates = world.rates
    n_benign = scaled(rates.accounts, scale, 1000)
    _stage(b, seed, 111)
    add_households(b, scaled(rates.accounts * rates.household_share, scale, 30), infra)
    _stage(b, seed, 112)
    campuses = add_campuses(b, scaled(rates.accounts * rates.campus_share, scale, 60), infra)
    _register_campuses(b, reg, campuses, networks)
    _stage(b, seed, 113)
    orgs = add_orgs(b, scaled(rates.accounts * rates.org_share, scale, 30), infra)
    _register_orgs(b, reg, orgs, networks, look.listed_org_share)
    _stage(b, seed, 114)
    n_dev = scaled(rates.accounts * rates.developer_share, scale, 8)
    add_developers(b, n_dev)
    _developers_share_tools(b, n_dev, look.dev_tool_share)

    assets: dict[int, OrgAssets] = {}
    large: list[dict[str, object]] = []
    for i, plan in enumerate(world.organisations):
        _stage(b, seed, 120, i)
        ctx = Context(b, infra, networks, POOL_PEOPLE, i, np.empty(0), np.empty(0))
        if plan.role == "large_customer":
            lo, hi = look.large_customer_seats
            seats = scaled(int(b.rng.integers(lo, hi + 1)), scale, 15)
            assets[i] = _org_members(ctx, reg, i, plan, seats, large=True, requests=look.large_customer_requests)
            large.append({"organisation": reg.entries[i].reference, "name": plan.name, "seats": seats})
        else:
            assets[i] = _org_members(ctx, reg, i, plan, scaled(plan.open_accounts_at_one, scale, 3), large=False)
    saas = []
    for p in range(look.saas_platforms):
        _stage(b, seed, 130, p)
        saas.append(_saas_platform(b, reg, infra, networks, look, p))
    _stage(b, seed, 115)
    add_consumers(b, max(0, n_benign - b.n), infra)

    kind = b.column("kind")
    people = np.isin(kind, [KIND_CONSUMER, KIND_HOUSEHOLD, KIND_ORG, KIND_CAMPUS])
    b.pool_totals[POOL_PEOPLE] = round(int(people.sum()) * PERSON_REQUESTS * look.benign_requests_factor)
    b.pool_totals[POOL_DEVELOPERS] = round(n_dev * DEVELOPER_REQUESTS * look.benign_requests_factor)
    _stage(b, seed, 116)
    _benign_card_issuers(b, look.benign_prepaid_share, look.benign_virtual_share)

    benign_homes = np.concatenate(b.home_v4).astype(np.int64)
    hijackable = np.flatnonzero(np.isin(kind, [KIND_CONSUMER, KIND_HOUSEHOLD]))
    builds: list[OperatorBuild] = []
    for i, plan in enumerate(world.operators):
        _stage(b, seed, 200, i)
        ctx = Context(b, infra, networks, POOL_OPERATOR0 + i, plan.organisation, benign_homes, hijackable)
        build = build_operator(ctx, plan, i)
        if build.takeover_time is not None:
            taken = b.column("owner")[build.personas]
            hijackable = hijackable[~np.isin(hijackable, taken)]
        b.pool_totals[POOL_OPERATOR0 + i] = round(len(build.personas) * plan.workload.requests_per_account)
        builds.append(build)
        b.segments[f"operator_{plan.truth}"] = len(build.personas)

    leaks: dict[int, list[Leak]] = {}
    decoys: dict[int, list[dict[str, str]]] = {}
    for i, (plan, build) in enumerate(zip(world.operators, builds, strict=True)):
        _stage(b, seed, 300, i)
        leaks[i] = _leak(b, plan.leaks.accounts, plan.leaks.kinds, build, assets[plan.organisation])
        decoys[i] = _decoys(b, build, reg, providers, webmail_orgs)

    record = WorldRecord(
        world, reg.entries, networks, builds, leaks, decoys,
        salt=bundle_salt(seed, scale, world.tradecraft), large_customers=large, saas_platforms=saas,
    )
    record.families = _family_counts(b, campuses, record)
    return assemble(b, popular_start, popular_cdf, world=record)


# --- networks and organisations of the benign world -------------------------------------------


def _infra_networks(infra: Infra, networks: list[Network]) -> None:
    for country, net in infra.carrier_nets.items():
        networks.append(Network(net, vocab.CARRIER_NAMES[vocab.COUNTRIES[country]], "mobile"))
    for p, nets in enumerate(infra.vpn_nets):
        for net in nets:
            networks.append(Network(int(net), vocab.VPN_NAMES[p % len(vocab.VPN_NAMES)], "vpn"))


def _register_campuses(b: Builder, reg: _Registry, sites: Sites, networks: list[Network]) -> None:
    for i in range(len(sites.net)):
        domain = b.domains[int(sites.domain[i])]
        country = vocab.COUNTRIES[int(sites.country[i])]
        if sites.university[i]:
            word = domain.split(".")[0].capitalize()
            idx = reg.add(f"University of {word}", country, [domain], "university", True, "university")
            networks.append(Network(int(sites.net[i]), reg.entries[idx].reference, "education"))
            members = sites.members(i)
            own_mail = members[b.column("domain")[members] == sites.domain[i]]
            b.update("org", own_mail, idx)
        else:
            networks.append(Network(int(sites.net[i]), f"{domain.split('.')[0].capitalize()} Cowork", "corporate"))


def _register_orgs(b: Builder, reg: _Registry, sites: Sites, networks: list[Network], listed_share: float) -> None:
    listed = b.rng.random(len(sites.net)) < listed_share
    for i in range(len(sites.net)):
        domain = b.domains[int(sites.domain[i])]
        name = f"{domain.split('.')[0].capitalize()} {vocab.ORG_SUFFIXES['enterprise'][i % 5]}"
        idx = reg.add(name, vocab.COUNTRIES[int(sites.country[i])], [domain], "enterprise", bool(listed[i]), "organisation")
        reg.entries[idx].group = b.groups[int(sites.group[i])]
        networks.append(Network(int(sites.net[i]), reg.entries[idx].reference, "corporate"))
        b.update("org", sites.members(i), idx)


def _developers_share_tools(b: Builder, n_dev: int, share: float) -> None:
    """A share of the heavy developers lean on popular tools (shared templates, common clients)."""
    kind = b.column("kind")
    dev = np.flatnonzero(kind == KIND_DEVELOPER)[-n_dev:]
    heavy = dev[b.rng.random(len(dev)) < share]
    b.update("p_pop", heavy, b.rng.uniform(0.3, 0.7, len(heavy)))
    b.update("p_personal", heavy, 0.25)


def _benign_card_issuers(b: Builder, prepaid: float, virtual: float) -> None:
    """Some benign people pay with prepaid or virtual cards too, so those BINs are not a tell."""
    r = b.rng
    bins = np.concatenate(b.inst_bin)
    u = r.random(len(bins))
    new = bins.copy()
    pp = u < prepaid
    vv = (u >= prepaid) & (u < prepaid + virtual)
    new[pp] = r.choice(PREPAID_BIN_INDEX, int(pp.sum()))
    new[vv] = r.choice(VIRTUAL_BIN_INDEX, int(vv.sum()))
    countries = np.concatenate(b.inst_country)
    changed = pp | vv
    countries[changed] = b._bin_country(new[changed])
    b.inst_bin = [new.astype(np.int16)]
    b.inst_country = [countries.astype(np.int16)]
    assert len(ALL_BINS) > int(new.max())


def _org_members(
    ctx: Context, reg: _Registry, idx: int, plan: OrgPlan, n: int, large: bool, requests: float = 0.0
) -> OrgAssets:
    """An organisation's open, legitimate accounts: its domain, corporate card(s), office range,
    perhaps a cloud tenancy. A large open customer is the same, API-heavy and high-volume."""
    b = ctx.b
    r = b.rng
    entry = reg.entries[idx]
    domain = b.domain(entry.domains[0])
    country = vocab.country_index(plan.country)
    prefix = "CUST" if large else "ORG"
    group = int(b.add_groups(prefix, 1, 4, distillation=False)[0])
    entry.group = b.groups[group]
    net = b.space.blocks(1)
    office_addr, _ = b.space.hosts(net, np.array([plan.office_ips]))
    office = b.add_ipv4(office_addr)
    ctx.networks.append(Network(int(net[0]), entry.reference, "corporate"))
    tenancy = np.empty(0, dtype=np.int64)
    if plan.cloud_tenancy:
        octets = np.array(CLOUD_PROVIDER_OCTETS[plan.cloud_provider], dtype=np.uint32)
        tnet = b.space.blocks(1, octets)
        addr, _ = b.space.hosts(tnet, np.array([int(r.integers(2, 9))]))
        tenancy = b.add_ipv4(addr)
        ctx.networks.append(Network(int(tnet[0]), entry.reference, "datacenter"))
    cols = person_columns(b, n, np.full(n, country, dtype=np.int16), "worker", hour="office")
    cols.update(tz=int(vocab.COUNTRY_TZ[country]), office=True, model_profile=model_index("worker"), p_web=0.5)
    n_tpl = 5 + n // 10 if not large else int(r.integers(10, 61))
    tpl = b.add_templates(b.categories(np.full(n_tpl, mix_index("research" if large else "worker"))))
    cols.update(
        p_group=r.uniform(0.4, 0.8) if large else np.where(r.random(n) < 0.9, 0.3, 0.0),
        pool_start=int(tpl[0]),
        pool_len=n_tpl,
        pool_window=n_tpl,
        p_pop=np.minimum(cols["p_pop"], 0.2),
    )
    if large:
        cols.update(
            hour_profile=hour_index("business"),
            human=False,
            mix=mix_index("research"),
            model_profile=model_index("research"),
            p_web=0.05,
            n_keys=r.integers(1, 4, n),
            vol_pool=POOL_CUSTOMERS,
            vol_weight=b.lognormal(n, 0.6),
        )
    domain_of = np.where(r.random(n) < (1.0 if large else b.rates.org_domain_coverage), domain, b.webmail(n))
    acct = b.add_accounts(n, kind=KIND_CUSTOMER if large else KIND_ORG, group=group, org=idx, domain=domain_of, **cols)
    if large:
        assert b.pool_totals is not None
        b.pool_totals[POOL_CUSTOMERS] = b.pool_totals.get(POOL_CUSTOMERS, 0) + round(n * requests)
    where = np.concatenate([tenancy, office]) if large and len(tenancy) else office
    counts = np.full(1, len(where))
    rep, items, j = expand_links(acct, np.zeros(n, dtype=np.int64), np.array([0, counts[0]]), where)
    b.link("ip", rep, items, j)
    remote = r.random(n) < (0.1 if large else 0.5)
    b.link("ip", acct[remote], b.homes(int(remote.sum())), 20)
    laptops = b.add_devices(np.where(r.random(n) < 0.6, profile_index("chrome_win"), profile_index("chrome_mac")))
    devices = [laptops]
    if large:  # the API client every seat's tools run on
        client = profile_index(str(r.choice(["vendor_sdk", "python_requests", "node"])))
        sdk = b.add_devices(np.full(n, client))
        b.link("dev", acct, sdk, 0)
        b.link("dev", acct, laptops, 1)
        devices.append(sdk)
    else:
        b.link("dev", acct, laptops, 0)
    n_cards = 1 + n // 100
    cards = b.add_instruments(r.choice(30, n_cards))
    covered = r.random(n) < (1.0 if large else b.rates.org_card_coverage)
    created = b.column("created")[acct]
    b.link("inst", acct[covered], cards[r.integers(0, n_cards, int(covered.sum()))], created[covered] + DAY_MS)
    return OrgAssets(domain, office, tenancy, cards, np.concatenate(devices), acct)


def _saas_platform(
    b: Builder, reg: _Registry, infra: Infra, networks: list[Network], look: LookAlikes, p: int
) -> dict[str, object]:
    """A SaaS platform's backend in a datacenter sending requests for many tenants, each with
    its own card and domain: tenants are strangers to each other (truth: no operator)."""
    r = b.rng
    word = "".join(str(r.choice(vocab.SYLLABLES)) for _ in range(2))
    idx = reg.add(f"{word.capitalize()} {vocab.ORG_SUFFIXES['reseller'][p % 4]}", "US", [f"{word}.app"], "reseller", True, "saas_platform")
    ctx = Context(b, infra, networks, POOL_TENANTS, idx, np.empty(0), np.empty(0))
    own_range = r.random() < 0.5
    pool, _ = dc_blocks(ctx, 1, "big_cloud", owner_name=reg.entries[idx].reference if own_range else None)
    backend = pool[: int(r.integers(look.saas_backend_ips[0], look.saas_backend_ips[1] + 1))]
    lo, hi = look.saas_tenants_at_one
    n = scaled(int(r.integers(lo, hi + 1)), b.scale, 10)
    country = b.countries(n)
    life = benign_lifecycle(b, n)
    created = np.maximum(life["created"], ms("2024-01-01"))
    life["created"] = created
    life["start"] = np.maximum(life["start"], created + DAY_MS)
    life["end"] = np.maximum(life["end"], np.minimum(life["start"] + DAY_MS, BENIGN_END))
    n_tpl = int(r.integers(20, 101))
    tpl = b.add_templates(b.categories(np.full(n_tpl, mix_index("saas"))))
    acct = b.add_accounts(
        n,
        kind=KIND_TENANT,
        country=country,
        domain=b.made_up_domains(n, ("com", "io", "co", "net", "shop")),
        tz=0,
        hour_profile=hour_index(str(r.choice(["automation", "business", "flat"]))),
        human=False,
        mix=mix_index("saas"),
        model_profile=model_index("worker"),
        p_pop=0.0,
        p_group=float(r.uniform(0.5, 0.9)),
        pool_start=int(tpl[0]),
        pool_len=n_tpl,
        pool_window=n_tpl,
        p_web=0.02,
        ip_skew=3.0,
        n_keys=1,
        vol_pool=POOL_TENANTS,
        vol_weight=b.lognormal(n, 1.0),
        sess_extra=1.0,
        **life,
    )
    rep, items, j = expand_links(acct, np.zeros(n, dtype=np.int64), np.array([0, len(backend)]), backend)
    b.link("ip", rep, items, j)
    b.link("ip", acct, b.homes(n), 50)  # the tenant's own console logins
    client = profile_index(str(r.choice(["node", "python_requests", "go"])))
    servers = b.add_devices(np.full(int(r.integers(1, 4)), client))
    b.link("dev", acct, servers[r.integers(0, len(servers), n)], 0)
    b.link("dev", acct, b.add_devices(np.full(n, profile_index("chrome_win"))), 5)
    b.common_cards(acct, created + r.integers(0, 3 * DAY_MS, n))
    assert b.pool_totals is not None
    b.pool_totals[POOL_TENANTS] = b.pool_totals.get(POOL_TENANTS, 0) + round(n * look.saas_requests)
    return {"platform": reg.entries[idx].reference, "name": reg.entries[idx].name, "tenants": n, "backend_ips": len(backend)}


# --- operators' trails ---------------------------------------------------------------------


def _leak(b: Builder, k: int, kinds: tuple[str, ...], build: OperatorBuild, org: OrgAssets) -> list[Leak]:
    """k of the operator's accounts touch its organisation's card, device, office, domain or cloud."""
    if k == 0 or not kinds:
        return []
    r = b.rng
    chosen = r.choice(build.personas, min(k, len(build.personas)), replace=False)
    out = []
    for j, persona in enumerate(chosen.tolist()):
        kind = kinds[j % len(kinds)] if j < len(kinds) else str(r.choice(kinds))
        if kind == "cloud" and not len(org.tenancy_ips):
            kind = "office"
        start, end = int(b.column("start")[persona]), int(b.column("end")[persona])
        if kind == "card":
            item = int(r.choice(org.cards))
            b.link("inst", np.array([persona]), np.array([item]), start + int(r.integers(0, max(1, end - start))))
        elif kind == "device":
            item = int(r.choice(org.devices))
            b.link("dev", np.array([persona]), np.array([item]), 5)
        elif kind in ("office", "cloud"):
            item = int(r.choice(org.office_ips if kind == "office" else org.tenancy_ips))
            b.link("ip", np.array([persona]), np.array([item]), -1 if r.random() < 0.5 else 99)
        else:
            owner = int(b.column("owner")[persona])
            item = org.domain
            b.update("domain", np.array([owner if owner >= 0 else persona]), item)
        out.append(Leak(persona, kind, item))
    return out


def _decoys(
    b: Builder, build: OperatorBuild, reg: _Registry, providers: list[int], webmail: dict[str, int]
) -> list[dict[str, str]]:
    """Organisations that share something harmless with the operator: the cloud provider that
    owns its datacenter range, the webmail provider of its accounts' addresses."""
    out = []
    nets = []
    for key, value in build.details.items():
        if key == "dc_nets" or (key.startswith("crew_") and isinstance(value, dict) and "dc_nets" in value):
            nets.extend(value if key == "dc_nets" else value["dc_nets"])  # type: ignore[arg-type]
    for net in sorted(set(int(x) for x in nets)):
        octet = net >> 24
        for p, octets in enumerate(CLOUD_PROVIDER_OCTETS):
            if octet in octets:
                out.append({"organisation": reg.entries[providers[p]].reference, "via": "cloud_provider"})
    domains = b.column("domain")[build.personas]
    for d in sorted(set(domains.tolist())):
        name = b.domains[d]
        if name in webmail:
            out.append({"organisation": reg.entries[webmail[name]].reference, "via": "webmail"})
    unique = {(o["organisation"], o["via"]): o for o in out}
    return [unique[k] for k in sorted(unique)]


def _family_counts(b: Builder, campuses: Sites, record: WorldRecord) -> dict[str, dict[str, int]]:
    kind = b.column("kind")
    group = b.column("group")
    owner = b.column("owner")
    primary = owner < 0

    def count(mask: np.ndarray) -> dict[str, int]:
        return {"accounts": int((mask & primary).sum()), "groups": int(len(set(group[mask & (group >= 0)].tolist())))}

    universities = int(campuses.university.sum())
    out = {
        "consumer": count(kind == KIND_CONSUMER),
        "household": count(kind == KIND_HOUSEHOLD),
        "organisation": count(kind == KIND_ORG),
        "campus": {**count(kind == KIND_CAMPUS), "universities": universities, "coworking": int(len(campuses.net) - universities)},
        "developer": count(kind == KIND_DEVELOPER),
        "large_open_customer": count(kind == KIND_CUSTOMER),
        "saas_tenant": {**count(kind == KIND_TENANT), "platforms": len(record.saas_platforms)},
    }
    out["hijacked"] = {"accounts": int((~primary).sum()), "groups": 0}
    return out


def owners_rows(record: WorldRecord, seed: int) -> list[tuple[str, str, int, str]]:
    """ip_owners rows (cidr, owner, asn, kind): residential ISPs and cloud providers by /8, every
    /24 handed out whole by its owner. Nested ranges: the most specific wins."""
    r = np.random.default_rng([seed, 400])
    rows: list[tuple[int, int, str, str]] = []
    isps = r.permutation(len(vocab.ISP_NAMES))
    for i, octet in enumerate(HOME_OCTETS.tolist()):
        rows.append((octet << 24, 8, vocab.ISP_NAMES[int(isps[i % len(isps)])], "residential"))
    for p, octets in enumerate(CLOUD_PROVIDER_OCTETS):
        owner = next(e.reference for e in record.orgs if e.name == vocab.CLOUD_PROVIDERS[p][0])
        rows.extend((o << 24, 8, owner, "datacenter") for o in octets)
    rows.extend((n.net, 24, n.owner, n.kind) for n in record.networks)
    rows.sort()
    owners = sorted({row[2] for row in rows} | {vocab.ISP_NAMES[0]})
    asns = dict(zip(owners, r.choice(np.arange(1000, 400_000), len(owners), replace=False).tolist(), strict=True))
    out = [
        (f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.{net & 255}/{bits}", owner, int(asns[owner]), kind)
        for net, bits, owner, kind in rows
    ]
    out.append(("2a02::/16", vocab.ISP_NAMES[0], int(asns[vocab.ISP_NAMES[0]]), "residential"))
    return out
