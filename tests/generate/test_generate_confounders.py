"""The benign population carries every confounder that breaks naive attribution.

Thresholds are for the session bundle (scale 0.02, ~4,400 benign accounts) and are set well
below what the generator produces, so they hold for any seed.
"""

from __future__ import annotations

from sybilgraph.generate.vocab import DISPOSABLE_DOMAINS, WEBMAIL_DOMAINS
from tests.generate.gen_support import Sql

FREE_MAIL = "(" + ", ".join(f"'{d}'" for d in WEBMAIL_DOMAINS + DISPOSABLE_DOMAINS) + ")"


def test_carrier_nat_ip_shared_by_many_strangers(sql: Sql) -> None:
    # Mobile carrier NAT / VPN exits: one IP, many unrelated benign accounts.
    top = sql.one(
        """select max(n) from (select ip, count(distinct account_id) n from interactions
           join g using(account_id) where grp = 'solo' group by ip)"""
    )
    assert top >= 50
    many = sql.one(
        """select count(*) from (select ip from interactions join g using(account_id)
           where grp = 'solo' group by ip having count(distinct account_id) >= 30)"""
    )
    assert many >= 10  # several carriers' exits and VPN exits, not one odd IP


def test_households_share_a_home_line_and_sometimes_a_card_or_device(sql: Sql) -> None:
    per_hh = sql.rows(
        """select operator, count(*), count(distinct signup_ip) from g join accounts using(account_id)
           where grp = 'HH' group by 1"""
    )
    assert len(per_hh) >= 20
    assert all(n_ips == 1 for _, _, n_ips in per_hh)
    shared_card = sql.one(
        """select count(distinct operator) from (select operator, instrument_id from payment_methods
           join g using(account_id) where grp = 'HH' group by 1, 2 having count(distinct account_id) >= 2)"""
    )
    shared_device = sql.one(
        """select count(distinct operator) from (select operator, device_id from sessions
           join g using(account_id) where grp = 'HH' group by 1, 2 having count(distinct account_id) >= 2)"""
    )
    assert 0.15 * len(per_hh) <= shared_card <= 0.6 * len(per_hh)
    assert 0.05 * len(per_hh) <= shared_device <= 0.5 * len(per_hh)


def test_organisations_share_card_domain_and_office_ips(sql: Sql) -> None:
    orgs = sql.rows(
        f"""with m as (select operator, account_id from g where grp = 'ORG'),
           card as (select operator, max(n) n from (select operator, instrument_id, count(*) n
                    from payment_methods join m using(account_id) group by 1, 2) group by 1),
           dom as (select operator, max(n) n from (select operator, email_domain, count(*) n
                   from accounts join m using(account_id) where email_domain not in {FREE_MAIL}
                   group by 1, 2) group by 1),
           ip as (select operator, max(n) n from (select operator, ip, count(distinct account_id) n
                  from interactions join m using(account_id) group by 1, 2) group by 1),
           size as (select operator, count(*) n from m group by 1)
           select size.operator, size.n, card.n, dom.n, ip.n from size
           join card using(operator) join dom using(operator) join ip using(operator)"""
    )
    assert len(orgs) >= 3
    for _, size, card, dom, ip in orgs:
        assert card >= 0.3 * size
        assert dom >= 0.6 * size
        assert ip >= 0.6 * size
    # An organisation's domain is its own.
    leaks = sql.one(
        f"""select count(*) from (select email_domain from accounts join g using(account_id)
            where email_domain not in {FREE_MAIL} and grp = 'ORG'
            intersect select email_domain from accounts join g using(account_id) where grp <> 'ORG')"""
    )
    assert leaks == 0


def test_campus_ips_and_mail_domain_shared_by_strangers(sql: Sql) -> None:
    # Students: a campus mail domain and a few campus IPs, all unrelated people.
    best = sql.one(
        f"""with c as (select email_domain, account_id from accounts join g using(account_id)
                       where grp = 'solo' and email_domain not in {FREE_MAIL}),
           d as (select email_domain, count(*) n from c group by 1 having n >= 10)
           select max(n) from (select d.email_domain, i.ip, count(distinct c.account_id) n
             from d join c using(email_domain) join interactions i using(account_id) group by 1, 2)"""
    )
    assert best is not None and best >= 10


def test_popular_template_used_by_many_unrelated_accounts(sql: Sql) -> None:
    top = sql.one(
        """select max(n) from (select prompt_fingerprint, count(distinct account_id) n
           from interactions join g using(account_id) where grp = 'solo' group by 1)"""
    )
    assert top >= 100


def test_a_handful_of_tls_fingerprints_cover_nearly_everybody(sql: Sql) -> None:
    shares = sql.column(
        """select count(distinct account_id) from sessions join g using(account_id)
           where not is_distillation group by tls_fingerprint order by 1 desc"""
    )
    total = sql.one(
        "select count(distinct account_id) from sessions join g using(account_id) where not is_distillation"
    )
    assert sum(shares[:5]) >= 0.9 * total
    top_ua = sql.column(
        """select count(distinct account_id) from sessions join g using(account_id)
           where not is_distillation group by user_agent order by 1 desc limit 12"""
    )
    assert sum(top_ua) >= 0.8 * total


def test_heavy_single_developers_look_like_operators_alone(sql: Sql) -> None:
    # Volume and round-the-clock timing of an operator account, but one account each.
    op_median = sql.one(
        """select median(n) from (select account_id, count(*) n from interactions
           join g using(account_id) where is_distillation group by 1)"""
    )
    heavy = sql.rows(
        f"""select account_id, count(*) n, count(distinct hour(ts)) n_hours,
                  count(distinct prompt_fingerprint) fps
           from interactions join g using(account_id) where grp = 'solo'
           group by 1 having n >= {op_median}"""
    )
    assert len(heavy) >= 5
    assert sum(1 for _, _, hours, _ in heavy if hours == 24) >= 5


def test_benign_mix_is_chat_heavy_fake_mix_is_not(sql: Sql) -> None:
    share = dict(
        sql.rows(
            """select is_distillation, avg(case when category in ('reasoning', 'coding', 'math', 'agentic')
                      then 1.0 else 0.0 end) from interactions join g using(account_id) group by 1"""
        )
    )
    assert share[True] >= 0.75
    assert share[False] <= 0.55
