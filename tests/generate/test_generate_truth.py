"""Ground truth and labels agree with the data; activity stays inside its windows."""

from __future__ import annotations

from typing import Any

from sybilgraph.generate.config import OPERATORS
from tests.generate.gen_support import SCALE, Sql


def test_truth_covers_every_account_once(sql: Sql) -> None:
    assert sql.one("select count(*) from truth") == sql.one("select count(*) from accounts")
    assert sql.one("select count(distinct account_id) from truth") == sql.one("select count(*) from truth")
    assert sql.one("select count(*) from truth t anti join accounts a using(account_id)") == 0


def test_distillation_flag_matches_the_operator(sql: Sql) -> None:
    assert sql.one("select count(*) from g where is_distillation <> coalesce(operator like 'DIST-%', false)") == 0
    ops = set(sql.column("select distinct operator from g where is_distillation"))
    assert ops == {s.truth for s in OPERATORS}


def test_operator_sizes_scale(sql: Sql, manifest: dict[str, Any]) -> None:
    sizes = dict(sql.rows("select operator, count(*) from g where is_distillation group by 1"))
    for spec in OPERATORS:
        assert sizes[spec.truth] == max(20, round(spec.accounts_at_one * SCALE))
    listed = {o["operator"]: o["accounts"] for o in manifest["operators"]}
    assert listed == sizes
    assert abs(sum(sizes.values()) - 25_000 * SCALE) <= 0.02 * 25_000 * SCALE


def test_interaction_totals_scale(sql: Sql) -> None:
    fake = sql.one("select count(*) from interactions join g using(account_id) where is_distillation")
    benign = sql.one("select count(*) from interactions join g using(account_id) where not is_distillation")
    assert fake == round(28_800_000 * SCALE)
    assert benign == round(18_000_000 * SCALE)
    n_benign = sql.one("select count(*) from g where not is_distillation")
    n_fake = sql.one("select count(*) from g where is_distillation")
    assert n_benign >= 8 * n_fake


def test_multi_account_operators_are_households_and_orgs(sql: Sql) -> None:
    hh = sql.rows("select operator, count(*) from g where grp = 'HH' group by 1")
    org = sql.rows("select operator, count(*) from g where grp = 'ORG' group by 1")
    assert len(hh) >= 20 and all(2 <= n <= 5 for _, n in hh)
    assert len(org) >= 3 and all(5 <= n <= 200 for _, n in org)


def test_labels_name_only_their_operators_accounts(sql: Sql, manifest: dict[str, Any]) -> None:
    per_label = sql.rows(
        """select l.operator_label, count(distinct g.operator), min(g.operator), count(*),
                  count(distinct l.account_id), min(coalesce(l.source, ''))
           from labels l join g using(account_id) group by 1"""
    )
    assert len(per_label) >= 3
    seen_ops = set()
    for label, n_ops, op, n, n_distinct, source in per_label:
        assert n_ops == 1, label  # a label names one true operator
        assert op.startswith("DIST-")
        assert op not in seen_ops  # and one operator has one label name
        seen_ops.add(op)
        assert n == n_distinct >= 3
        assert source
        size = sql.one(f"select count(*) from g where operator = '{op}'")
        assert n <= max(3, 0.03 * size)
    labelled = {(o["operator"], o["label"]) for o in manifest["operators"] if o["label"]}
    assert labelled == {(op, label) for label, _, op, *_ in per_label}


def test_labels_refer_to_known_accounts(sql: Sql) -> None:
    assert sql.one("select count(*) from labels anti join accounts using(account_id)") == 0


def test_fake_activity_inside_the_campaign(sql: Sql) -> None:
    lo, hi = sql.rows("select min(ts), max(ts) from interactions join g using(account_id) where is_distillation")[0]
    assert lo.isoformat() >= "2026-04-22T00:00:00+00:00"
    assert hi.isoformat() < "2026-06-06T00:00:00+00:00"


def test_benign_activity_inside_its_window(sql: Sql) -> None:
    lo, hi = sql.rows("select min(ts), max(ts) from interactions join g using(account_id) where not is_distillation")[0]
    assert lo.isoformat() >= "2026-01-01T00:00:00+00:00"
    assert hi.isoformat() < "2026-07-01T00:00:00+00:00"
    # The benign population spans a wider window than the campaign, on both sides.
    assert lo.isoformat() < "2026-02-01" and hi.isoformat() > "2026-06-20"


def test_nothing_happens_before_the_account_exists(sql: Sql) -> None:
    for table, col in (("interactions", "ts"), ("sessions", "ts"), ("payment_methods", "added_at")):
        early = sql.one(
            f"select count(*) from {table} t join accounts a using(account_id) where t.{col} < a.created_at"
        )
        assert early == 0, table


def test_sessions_inside_the_data_horizon(sql: Sql) -> None:
    lo, hi = sql.rows("select min(ts), max(ts) from sessions")[0]
    assert lo.isoformat() >= "2026-01-01T00:00:00+00:00"
    assert hi.isoformat() < "2026-07-01T00:00:00+00:00"
