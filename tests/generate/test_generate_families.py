"""Each operator family shows its defining property in the data (one operator of every family
in one bundle, tests/generate/conftest.py ``world_report``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.generate.gen_support import Sql


def _op(manifest: dict[str, Any], family: str) -> dict[str, Any]:
    return next(o for o in manifest["operators"] if o["family"] == family)


@pytest.fixture(scope="module", autouse=True)
def trail(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    """``trail(ident)``: identifiers of operators' organisations their accounts touched (leaks).
    A family's own properties are checked without them; test_leaks_show_in_the_data checks them."""
    idents = [leak["identifier"] for op in world_manifest["operators"] for leak in op["leaks"]]
    wsql.con.execute("create or replace table trail (ident varchar)")
    if idents:
        wsql.con.executemany("insert into trail values (?)", [[i] for i in idents])
    wsql.con.execute("create or replace view olinks as select * from links where ident not in (select ident from trail)")


def test_careful_shares_no_card_device_or_ip_with_any_account(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "careful")
    op = entry["operator"]
    # Apart from its organisation's trail (a leaked corporate card, laptop or office line).
    shared = wsql.rows(
        f"""select l.kind, count(*) from olinks l join g using(account_id) where g.operator = '{op}'
            and exists (select 1 from links o where o.kind = l.kind and o.ident = l.ident
                        and o.account_id <> l.account_id)
            group by 1"""
    )
    assert shared == []
    # What ties it: one TLS client (private or a common automation stack) and its template pool.
    tls = wsql.column(
        f"""select distinct tls_fingerprint from sessions join g using(account_id) where operator = '{op}'
            and device_id not in (select ident from trail)"""
    )
    assert len(tls) == 1
    knobs = _op(world_manifest, "careful")["knobs"]
    if knobs["infra"]["client"] == "private":
        assert wsql.one(f"select count(*) from sessions join g using(account_id) where tls_fingerprint = '{tls[0]}' "
                        f"and coalesce(operator, '') <> '{op}'") == 0
    aged = wsql.one(
        f"""select min(datediff('day', created_at, timestamptz '2026-04-22 00:00:00+00')) from accounts
            join g using(account_id) where operator = '{op}'"""
    )
    assert aged >= 50  # aged months in advance


def test_vm_farm_runs_on_k_cloned_vms(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "vm_farm")
    op, k = entry["operator"], entry["built"]["vms"]
    assert k == min(entry["knobs"]["infra"]["vms"], entry["accounts"])
    devices = wsql.rows(
        f"""select device_id, count(distinct account_id) from interactions join g using(account_id)
            where operator = '{op}' and device_id not in (select ident from trail) group by 1"""
    )
    assert len(devices) == k
    assert sorted(n for _, n in devices) == sorted(entry["built"]["vm_accounts"])
    clients = wsql.rows(
        f"""select distinct user_agent, tls_fingerprint from sessions join g using(account_id) where operator = '{op}'
            and device_id not in (select ident from trail)"""
    )
    assert len(clients) == 1  # one client and one user agent for all
    nets = wsql.one(
        f"""select count(distinct regexp_replace(ip, '\\.[0-9]+$', '')) from interactions join g using(account_id)
            where operator = '{op}' and ip not in (select ident from trail)"""
    )
    assert nets <= entry["knobs"]["infra"]["dc_blocks"]
    per_vm_ips = wsql.column(
        f"""select count(distinct ip) from interactions join g using(account_id) where operator = '{op}'
            and ip not in (select ident from trail) and device_id not in (select ident from trail) group by device_id"""
    )
    lo, hi = entry["knobs"]["infra"]["ips_per_vm"]
    assert all(lo <= n <= hi for n in per_vm_ips)
    kinds = wsql.column(
        f"""select distinct o.kind from ip_owners o, (select distinct ip from interactions join g using(account_id)
            where operator = '{op}' and ip not in (select ident from trail)) i where i.ip like regexp_replace(o.cidr, '0/24$', '%') and o.cidr like '%/24'"""
    )
    assert kinds == ["datacenter"] or entry["knobs"]["infra"]["dc_host"] == "big_cloud"


def test_takeover_accounts_switch_regime_at_t(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    op = _op(world_manifest, "takeover")["operator"]
    epochs = wsql.rows(f"select account_id, controlled_from from truth_epochs where operator = '{op}'")
    assert len(epochs) == _op(world_manifest, "takeover")["accounts"] >= 10
    assert wsql.one(f"select count(*) from truth_epochs e join g using(account_id) where g.operator <> '{op}'") == 0
    for column in ("ip", "device_id"):
        for table in ("interactions", "sessions"):
            overlap = wsql.one(
                f"""with x as (select t.account_id, t.{column} v, t.ts >= e.controlled_from after
                               from {table} t join truth_epochs e using(account_id))
                    select count(*) from (select account_id, v from x group by 1, 2
                                          having bool_or(after) and bool_or(not after))"""
            )
            assert overlap == 0, (table, column)
    # A benign life before T (created long before, active before T), the operator's after.
    before = wsql.one(
        """select count(distinct account_id) from interactions join truth_epochs e using(account_id)
           where ts < e.controlled_from"""
    )
    assert before >= 0.6 * len(epochs)
    created = wsql.one(
        """select max(datediff('day', a.created_at, e.controlled_from)) >= 30 and
                  min(datediff('day', a.created_at, e.controlled_from)) >= 30
           from accounts a join truth_epochs e using(account_id)"""
    )
    assert created
    from_hh = _op(world_manifest, "takeover")["built"]["from_households"]
    assert from_hh >= 1  # some victims were household members (household identifiers before T)


def test_sub_crews_share_only_bin_range_and_templates(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "sub_crews")
    op = entry["operator"]
    crews = entry["crew_accounts"]
    assert 2 <= len(crews) <= 4 and sum(crews) == entry["accounts"]
    # Crews are the connected pieces of the operator's private identifiers (cards, devices,
    # IPs nobody outside uses): no private identifier joins two crews.
    wsql.con.execute(
        f"""create or replace table sc as select l.* from olinks l join g using(account_id) where g.operator = '{op}'"""
    )
    private = wsql.rows(
        f"""select kind, ident, count(distinct account_id) from sc where (kind, ident) not in (
              select kind, ident from links join g using(account_id) where coalesce(operator, '') <> '{op}')
            group by 1, 2"""
    )
    accounts = wsql.column("select distinct account_id from sc")
    parent = {a: a for a in accounts}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    members = {}
    for kind, ident, _ in private:
        members[(kind, ident)] = wsql.column(f"select account_id from sc where kind = '{kind}' and ident = '{ident}'")
    for accts in members.values():
        for other in accts[1:]:
            parent[find(other)] = find(accts[0])
    pieces = len({find(a) for a in accounts})
    assert pieces >= len(crews)
    bins = wsql.column(
        f"""select distinct bin from payment_methods join g using(account_id) where operator = '{op}'
            and instrument_id not in (select ident from trail)"""
    )
    assert len(bins) <= entry["knobs"]["identity"]["n_bins"]
    # ... while every crew draws from the one template pool.
    shared_templates = wsql.one(
        f"""select count(*) from (select prompt_fingerprint from interactions join g using(account_id)
            where operator = '{op}' group by 1 having count(distinct account_id) >= 2)"""
    )
    assert shared_templates >= 10


def test_churned_accounts_live_one_to_two_days(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    short = dict(
        wsql.rows(
            """select operator, count(*) from (select account_id, operator,
                 max(ts) - min(ts) span from interactions join g using(account_id) where is_distillation
                 group by 1, 2) where span <= interval 2 days group by 1"""
        )
    )
    churned_total = 0
    for op in world_manifest["operators"]:
        churned = op["built"].get("churned", 0)
        churned_total += churned
        assert short.get(op["operator"], 0) >= churned, op["operator"]
        crews = op["knobs"]["crews"] or [{"lifecycle": op["knobs"]["lifecycle"]}]
        if all(c["lifecycle"]["churn_share"] == 0 for c in crews):
            assert churned == 0
    assert churned_total >= 3


def test_proxy_farm_exits_overlap_benign_homes_at_the_drawn_rate(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "proxy_farm")
    rate = entry["knobs"]["infra"]["home_overlap"]
    built = entry["built"]
    assert built["proxy_exits_real_homes"] == min(built["proxy_exits_real_homes"], round(rate * built["proxy_exits"]))
    assert abs(built["proxy_exits_real_homes"] - rate * built["proxy_exits"]) <= 1
    op = entry["operator"]
    used, homes = wsql.rows(
        f"""with e as (select distinct ip from interactions join g using(account_id) where operator = '{op}'
                       and ip not in (select ident from trail)),
                 h as (select distinct signup_ip ip from accounts join g using(account_id) where not is_distillation)
            select count(*), count(h.ip) from e left join h using(ip)"""
    )[0]
    measured = homes / used
    assert abs(measured - rate) <= 0.1 + 2 * (rate * (1 - rate) / used) ** 0.5, (measured, rate)
    if rate > 0.05:
        assert homes >= 1
    # Each exit serves a few of its accounts, on average what was drawn.
    per_exit = wsql.one(
        f"""select avg(n) from (select ip, count(distinct account_id) n from interactions join g using(account_id)
            where operator = '{op}' group by 1)"""
    )
    assert per_exit <= 2 * entry["knobs"]["infra"]["accounts_per_exit"] + 1


def test_card_ring_cards_carry_their_drawn_number_of_accounts(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "card_ring")
    lo, hi = entry["knobs"]["infra"]["accounts_per_card"]
    per_card = wsql.column(
        f"""select count(distinct account_id) from payment_methods join g using(account_id)
            where operator = '{entry['operator']}' and instrument_id not in (select ident from trail)
            group by instrument_id order by 1"""
    )
    assert max(per_card) <= hi
    assert all(n >= lo for n in per_card[1:])  # the last card takes the remainder


def test_carrier_nat_hides_behind_exits_of_benign_phones(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "carrier_nat")
    op = entry["operator"]
    crowd = wsql.column(
        f"""with e as (select distinct ip from interactions join g using(account_id) where operator = '{op}'
                       and ip not in (select ident from trail))
            select count(distinct l.account_id) from e join links l on l.kind = 'ip' and l.ident = e.ip
            join g using(account_id) where not g.is_distillation group by e.ip"""
    )
    used = wsql.one(
        f"""select count(distinct ip) from interactions join g using(account_id) where operator = '{op}'
            and ip not in (select ident from trail)"""
    )
    assert len(crowd) == used and min(crowd) >= 1  # every exit it uses, benign phones use too
    assert sorted(crowd)[len(crowd) // 2] >= 3
    covered = wsql.one(
        f"""select count(distinct account_id) / (select count(*) from g where operator = '{op}')
            from payment_methods join g using(account_id) where operator = '{op}'"""
    )
    cov = entry["knobs"]["infra"]["card_coverage"]
    assert abs(covered - cov) <= 0.35
    phones = wsql.column(
        f"""select count(distinct account_id) from interactions join g using(account_id) where operator = '{op}'
            and device_id not in (select ident from trail) group by device_id"""
    )
    assert max(phones) <= entry["knobs"]["infra"]["accounts_per_device"][1]


def test_leaks_show_in_the_data(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    checks = {
        "card": "select count(*) from payment_methods where account_id = '{a}' and instrument_id = '{i}'",
        "device": "select count(*) from sessions where account_id = '{a}' and device_id = '{i}'",
        "office": "select count(*) from links where account_id = '{a}' and ident = '{i}'",
        "cloud": "select count(*) from links where account_id = '{a}' and ident = '{i}'",
        "domain": "select count(*) from accounts where account_id = '{a}' and email_domain = '{i}'",
    }
    n = 0
    for op in world_manifest["operators"]:
        assert op["leaves_trail"] == bool(op["leaks"])
        for leak in op["leaks"]:
            query = checks[leak["kind"]].format(a=leak["account_id"], i=leak["identifier"])
            if leak["kind"] == "device":
                query = query.replace("sessions", "links").replace("device_id", "ident")
            assert wsql.one(query) >= 1, leak
            n += 1
    assert n >= 3


@pytest.mark.parametrize("family", ["large_open_customer", "saas_tenant"])
def test_look_alikes_are_benign(wsql: Sql, world_manifest: dict[str, Any], family: str) -> None:
    if family == "large_open_customer":
        rows = wsql.rows(
            """select operator, count(*), count(distinct email_domain), bool_or(is_distillation)
               from g join accounts using(account_id) where grp = 'CUST' group by 1"""
        )
        assert rows and all(n >= 15 and domains == 1 and not dist for _, n, domains, dist in rows)
        heavy = wsql.one(
            """select median(n) from (select account_id, count(*) n from interactions join g using(account_id)
               where grp = 'CUST' group by 1)"""
        )
        assert heavy >= 50
    else:
        platform = world_manifest["saas_platforms"][0]
        assert platform["tenants"] >= 10
        shared = wsql.one(
            """select max(n) from (select ip, count(distinct account_id) n from interactions join g using(account_id)
               where grp = 'solo' group by 1)"""
        )
        assert shared >= platform["tenants"]


def test_careful_paraphrases_at_the_drawn_rate(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    """Paraphrased prompts match no template: a fingerprint seen once in the whole bundle."""
    entry = _op(world_manifest, "careful")
    w = entry["knobs"]["workload"]
    n, once = wsql.rows(
        f"""with f as (select prompt_fingerprint, count(*) c from interactions group by 1)
            select count(*), count(*) filter (where f.c = 1) from interactions join g using(account_id)
            join f using(prompt_fingerprint) where operator = '{entry['operator']}'"""
    )[0]
    p = w["paraphrase"]
    assert abs(once / n - p) <= 0.03 + 3 * (p * (1 - p) / n) ** 0.5, (once / n, p)


def test_vpn_mixed_shares_exits_with_benign_vpn_users(wsql: Sql, world_manifest: dict[str, Any]) -> None:
    entry = _op(world_manifest, "vpn_mixed")
    op = entry["operator"]
    kinds = dict(
        wsql.rows(
            f"""with e as (select distinct ip from interactions join g using(account_id) where operator = '{op}'
                           and ip not in (select ident from trail))
                select o.kind, count(distinct e.ip) from e join ip_owners o
                  on o.cidr like '%/24' and e.ip like regexp_replace(o.cidr, '0/24$', '%') group by 1"""
        )
    )
    assert set(kinds) <= {"vpn", "datacenter"} and "datacenter" in kinds
    if "vpn" in kinds:
        benign = wsql.one(
            f"""select count(distinct l.account_id) from links l join g using(account_id) where not g.is_distillation
                and l.kind = 'ip' and l.ident in (select ip from interactions join g using(account_id)
                                                  where operator = '{op}')"""
        )
        assert benign >= 3
    agents = wsql.column(
        f"""select distinct user_agent from sessions join g using(account_id) where operator = '{op}'
            and device_id not in (select ident from trail)"""
    )
    assert agents == ["python-httpx/0.28.1"]
