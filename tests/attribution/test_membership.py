"""The per-operator membership model (pure): who an operator's own evidence accepts.

Each test builds a small world by hand: an operator, the look-alikes that fool simpler rules
(tied to it by pairwise evidence, so they are judged against it), and a crowd.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.attribution.comparisons import COMPARISONS
from sybilgraph.attribution.grouping import MEMBERSHIP_COMPARISONS
from sybilgraph.attribution.membership import membership_scores
from sybilgraph.attribution.pairs import build_pair_tables
from sybilgraph.attribution.profiles import build_profiles
from tests.attribution.world import World, careful_operator


def _crowd(w: World, n: int = 300) -> None:
    """Strangers: own homes and cards, common browsers, popular templates, webmail."""
    rng = np.random.default_rng(5)
    for i in range(n):
        a = f"p{i:03d}"
        w.account(a, created_day=float(rng.integers(-900, 0)), hours="day")
        w.use(a, "email_domain", f"mail{i % 4}.test")
        w.use(a, "ip", f"isp-{i // 2}")  # two per line: pairs of flatmates
        for t in rng.choice(40, 4, replace=False):
            w.use(a, "template", f"pop{t}", 3)


def _judge(w: World, group: list[str], candidates: list[str] = ()) -> dict[str, float]:  # type: ignore[assignment]
    t = build_pair_tables(w.links(), w.account_table())
    index = {str(a): i for i, a in enumerate(t.account_ids)}
    groups = pa.table({"aid": pa.array([index[a] for a in group], pa.int32()), "gid": pa.array([0] * len(group), pa.int64())})
    cand = pa.table({"aid": pa.array([index[a] for a in candidates], pa.int32()), "gid": pa.array([0] * len(candidates), pa.int64())})
    scores = membership_scores(t.con, t.n_accounts, groups, cand, MEMBERSHIP_COMPARISONS, build_profiles(w.account_table(), t.account_ids))
    tbl = scores.table
    ids = t.account_ids
    return {str(ids[a]): p for a, p in zip(tbl.column("aid").to_pylist(), tbl.column("posterior").to_pylist())}


def _ring(w: World, n: int = 40) -> list[str]:
    """An operator: prepaid cards on 8 accounts each, a residential proxy pool with each exit
    reused by 4 of its accounts, its own prompt pool, round-the-clock automation."""
    rng = np.random.default_rng(9)
    ops = [f"o{i:02d}" for i in range(n)]
    for i, a in enumerate(ops):
        w.account(a, created_day=100 + i * 0.01, hours="flat", api=1.0, cats={"reasoning": 80, "math": 20})
        w.use(a, "card", f"prepaid{i // 8}")
        for e in rng.choice(n // 4, 4, replace=False):
            w.use(a, "ip", f"exit{e}")
        for t in rng.choice(30, 10, replace=False):
            w.use(a, "template", f"harvest{t}", 30)
    return ops


def test_a_household_behind_one_of_the_operators_proxy_exits_is_not_absorbed() -> None:
    w = World()
    _crowd(w)
    ops = _ring(w)
    for m in ("h1", "h2", "h3"):
        w.account(m, created_day=-500, hours="day")
        w.use(m, "ip", "exit3", 200)  # their home line, for months
        w.use(m, "card", "family-card")
        w.use(m, "email_domain", "mail1.test")
    post = _judge(w, ops, candidates=["h1", "h2", "h3"])
    assert min(post[a] for a in ops) >= 0.5
    assert max(post[h] for h in ("h1", "h2", "h3")) < 0.5


def test_developers_on_the_operators_automation_client_are_not_members() -> None:
    w = World()
    _crowd(w)
    ops = _ring(w)
    for a in ops:
        w.use(a, "tls", "python-httpx")
    devs = [f"d{i}" for i in range(6)]
    for i, d in enumerate(devs):
        w.account(d, created_day=-300 - i, hours="flat", api=1.0, cats={"coding": 100})
        w.use(d, "tls", "python-httpx")
        w.use(d, "card", f"dev-card-{i}")
        w.use(d, "template", f"pop{i}", 40)
    post = _judge(w, ops, candidates=devs)
    assert min(post[a] for a in ops) >= 0.5
    assert max(post[d] for d in devs) < 0.5


def test_a_careful_operator_sharing_only_a_client_and_a_prompt_pool_is_accepted_whole() -> None:
    w = World()
    _crowd(w)
    careful = careful_operator(w, popular=3)
    post = _judge(w, careful)
    assert min(post[a] for a in careful) >= 0.5


def test_a_newcomer_is_judged_exactly_like_a_member_of_the_same_pattern() -> None:
    """Leave-one-out: a member and an identical newcomer get the same posterior."""
    w = World()
    _crowd(w)
    ops = _ring(w)
    w.account("new", created_day=100.5, hours="flat", api=1.0, cats={"reasoning": 80, "math": 20})
    w.use("new", "card", "prepaid0")
    for e in (0, 1, 2, 3):
        w.use("new", "ip", f"exit{e}")
    for t in range(10):
        w.use("new", "template", f"harvest{t}", 30)
    post = _judge(w, ops, candidates=["new"])
    assert post["new"] >= 0.5


def test_comparisons_cover_every_identifier_family() -> None:
    assert set(MEMBERSHIP_COMPARISONS) == {c.name for c in COMPARISONS if c.is_identifier}
