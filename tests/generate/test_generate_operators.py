"""Each distillation operator shows its own tradecraft, and is distinguishable in principle.

"Distinguishable in principle": every account of an operator shares at least one identifier
(card, device, IP, prompt template or TLS fingerprint) with another account of the same
operator that no account outside the operator uses.
"""

from __future__ import annotations

from typing import Any

import pytest

from sybilgraph.generate.activity import SYNC_JITTER_MS, SYNC_PERIOD_MS
from sybilgraph.generate.config import OPERATORS
from tests.generate.gen_support import Sql

# Every account -> identifier link of the bundle, by kind.
LINKS = """
    select account_id, 'card' kind, instrument_id ident from payment_methods
    union select account_id, 'device', device_id from sessions
    union select account_id, 'device', device_id from interactions
    union select account_id, 'ip', ip from sessions
    union select account_id, 'ip', ip from interactions
    union select account_id, 'template', prompt_fingerprint from interactions
    union select account_id, 'tls', tls_fingerprint from sessions
"""


@pytest.fixture(scope="module")
def links(sql: Sql) -> Sql:
    sql.con.execute(f"create or replace table links as {LINKS}")
    sql.con.execute(
        """create or replace table ident_owners as
           select kind, ident, count(distinct account_id) n_accounts,
                  count(distinct coalesce(operator, account_id)) n_owners, min(operator) op
           from links join g using(account_id) group by 1, 2"""
    )
    return sql


def _op_ids(sql: Sql, truth: str, kind: str, table: str, column: str) -> list[tuple[Any, ...]]:
    return sql.rows(
        f"""select {column}, count(distinct account_id) from {table} join g using(account_id)
            where operator = '{truth}' group by 1"""
    )


@pytest.mark.parametrize("spec", OPERATORS, ids=lambda s: s.key)
def test_every_operator_account_shares_exclusive_evidence(links: Sql, spec: Any) -> None:
    lonely = links.one(
        f"""select count(*) from g where operator = '{spec.truth}' and account_id not in (
              select l.account_id from links l join ident_owners o using(kind, ident)
              where o.n_owners = 1 and o.n_accounts >= 2 and o.op = '{spec.truth}')"""
    )
    assert lonely == 0


def test_kestrel_prepaid_cards_and_rotating_proxies(sql: Sql) -> None:
    cards = _op_ids(sql, "DIST-KESTREL", "card", "payment_methods", "instrument_id")
    assert cards and all(10 <= n <= 50 for _, n in cards)
    ips = _op_ids(sql, "DIST-KESTREL", "ip", "interactions", "ip")
    subnets = {ip.rsplit(".", 1)[0] for ip, _ in ips if "." in ip}
    assert len(subnets) >= 100  # residential lines all over the address space
    mean_reuse = sum(n for _, n in ips) / len(ips)
    assert 2 <= mean_reuse <= 8  # each exit reused by a few of its accounts
    devices = _op_ids(sql, "DIST-KESTREL", "device", "interactions", "device_id")
    assert all(n == 1 for _, n in devices)  # anti-detect browser: a fresh fingerprint each


def test_heron_virtual_cards_datacenter_subnets_cloned_vms(sql: Sql) -> None:
    cards = _op_ids(sql, "DIST-HERON", "card", "payment_methods", "instrument_id")
    assert all(n == 1 for _, n in cards)
    bins = sql.one(
        "select count(distinct bin) from payment_methods join g using(account_id) where operator = 'DIST-HERON'"
    )
    assert bins <= 3
    ips = _op_ids(sql, "DIST-HERON", "ip", "interactions", "ip")
    assert len({ip.rsplit(".", 1)[0] for ip, _ in ips}) <= 4
    devices = _op_ids(sql, "DIST-HERON", "device", "interactions", "device_id")
    assert len(devices) <= 12 and max(n for _, n in devices) >= 20


def test_osprey_shares_nothing_but_templates_tls_and_timing(sql: Sql, manifest: dict[str, Any]) -> None:
    for table, column in (
        ("payment_methods", "instrument_id"),
        ("interactions", "device_id"),
        ("interactions", "ip"),
        ("sessions", "ip"),
        ("sessions", "device_id"),
    ):
        shared = sql.one(
            f"""select count(*) from (select {column} from {table} where {column} in (
                  select {column} from {table} join g using(account_id) where operator = 'DIST-OSPREY')
                group by 1 having count(distinct account_id) > 1)"""
        )
        assert shared == 0, (table, column)
    # Its own template pool: every account shares templates with other accounts of it.
    poorly = sql.one(
        """with o as (select account_id from g where operator = 'DIST-OSPREY'),
           t as (select prompt_fingerprint fp, count(distinct account_id) n from interactions
                 join o using(account_id) group by 1 having n >= 2)
           select count(*) from o where account_id not in (
             select account_id from interactions join t on prompt_fingerprint = t.fp)"""
    )
    assert poorly == 0
    # One TLS stack, used by nobody else.
    tls = sql.column(
        "select distinct tls_fingerprint from sessions join g using(account_id) where operator = 'DIST-OSPREY'"
    )
    assert len(tls) == 1
    others = sql.one(
        f"""select count(*) from sessions join g using(account_id)
            where tls_fingerprint = '{tls[0]}' and coalesce(operator, '') <> 'DIST-OSPREY'"""
    )
    assert others == 0
    # Synchronised scheduler: every request in the same 12 s of each 5-minute tick.
    phase = manifest["careful_operator_scheduler"]["phase_ms"]
    off_tick = sql.one(
        f"""select count(*) from interactions join g using(account_id) where operator = 'DIST-OSPREY'
            and ((epoch_ms(ts) - {phase}) % {SYNC_PERIOD_MS} + {SYNC_PERIOD_MS}) % {SYNC_PERIOD_MS}
                >= {SYNC_JITTER_MS}"""
    )
    assert off_tick == 0
    # Aged in advance.
    assert sql.one(
        """select max(created_at) < timestamptz '2026-01-01 00:00:00+00' from accounts
           join g using(account_id) where operator = 'DIST-OSPREY'"""
    )


def test_marlin_hides_behind_carrier_nat(sql: Sql) -> None:
    crowded = sql.rows(
        """with m as (select distinct ip from interactions join g using(account_id) where operator = 'DIST-MARLIN')
           select ip, count(distinct account_id) from interactions join g using(account_id)
           where grp = 'solo' and ip in (select ip from m) group by 1"""
    )
    n_ips = sql.one(
        "select count(distinct ip) from interactions join g using(account_id) where operator = 'DIST-MARLIN'"
    )
    assert len(crowded) == n_ips  # every IP it uses is also used by benign strangers
    assert min(n for _, n in crowded) >= 20
    devices = _op_ids(sql, "DIST-MARLIN", "device", "interactions", "device_id")
    assert sum(n for _, n in devices) / len(devices) >= 4  # emulator farm
    cards = _op_ids(sql, "DIST-MARLIN", "card", "payment_methods", "instrument_id")
    assert sum(n for _, n in cards) / len(cards) >= 3


def test_plover_mixes_vpn_exits_and_datacenter(sql: Sql) -> None:
    shared_with_benign = sql.one(
        """with p as (select distinct ip from interactions join g using(account_id) where operator = 'DIST-PLOVER')
           select count(distinct ip) from interactions join g using(account_id)
           where not is_distillation and ip in (select ip from p)"""
    )
    assert shared_with_benign >= 1
    aged = sql.one(
        """select avg(case when created_at < timestamptz '2026-03-01 00:00:00+00' then 1.0 else 0.0 end)
           from accounts join g using(account_id) where operator = 'DIST-PLOVER'"""
    )
    assert 0.2 <= aged <= 0.8


def test_operators_work_harder_than_people(sql: Sql) -> None:
    med = dict(
        sql.rows(
            """select is_distillation, median(n) from (select account_id, count(*) n from interactions
               group by 1) join g using(account_id) group by 1"""
        )
    )
    assert med[True] >= 10 * med[False]


def test_burst_created_operators(sql: Sql) -> None:
    # Accounts created in bursts: few distinct creation days.
    for truth, bursts in (("DIST-HERON", 4), ("DIST-MARLIN", 6), ("DIST-KESTREL", 12)):
        days = sql.one(
            f"""select count(distinct cast(created_at as date)) from accounts join g using(account_id)
                where operator = '{truth}'"""
        )
        assert days <= 2 * bursts, truth


def test_shift_and_round_the_clock_schedules(sql: Sql) -> None:
    hours = dict(
        sql.rows(
            """select operator, count(distinct hour(ts)) from interactions join g using(account_id)
               where is_distillation group by 1"""
        )
    )
    assert hours["DIST-KESTREL"] == 24
    quiet = sql.one(
        """select avg(case when hour(ts) between 14 and 21 then 1.0 else 0.0 end) from interactions
           join g using(account_id) where operator = 'DIST-HERON'"""
    )
    assert quiet < 0.05  # two shifts, 8 quiet hours (16:00-24:00 at UTC+2)
