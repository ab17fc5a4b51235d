"""The organisation step's pure parts: ties, base rates, levels, the model and its hypotheses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution import organisations as O
from sybilgraph.attribution.organisation_evidence import build_registry, find_ties
from sybilgraph.ingest.state import STATE_SCHEMAS

# --------------------------------------------------------------------------- a small world

ORG_A = "org_alpha"  # listed: an AI lab with open accounts a1-a3 on alpha.ai, an office, a corporate card
ORG_W = "org_mail"  # listed: a webmail provider everybody uses


def _table(name: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    schema = STATE_SCHEMAS[name]
    rows = [{f: r.get(f) for f in schema.names} for r in rows]
    return pa.Table.from_pylist(rows, schema=schema)


def world(extra_labels: Iterable[dict[str, Any]] = ()) -> dict[str, pa.Table]:
    accounts: dict[str, str] = {}
    ids: list[dict[str, Any]] = []

    def account(a: str, domain: str, *ips: str, card: str | None = None) -> None:
        accounts[a] = domain
        for ip in ips:
            ids.append({"account_id": a, "kind": "ip", "value": ip, "count": 10})
        if card:
            ids.append({"account_id": a, "kind": "card", "value": card, "count": 1})

    for i in (1, 2, 3):  # Alpha's open accounts: its domain, its office, its corporate card
        account(f"a{i}", "alpha.ai", "10.0.0.1", card="card-alpha")
    for i in (1, 2, 3):  # Beta Corp, listed nowhere: its domain and office only the data tells
        account(f"b{i}", "beta.io", "30.0.0.1")
    for i in range(40):  # consumers on webmail at home
        account(f"c{i}", "mail.com", f"50.0.{i}.1")
    # Operator X (flagged): webmail, VMs at a hosting provider nobody else uses; one account
    # once paid with Alpha's corporate card, one is on Beta's domain.
    for i in range(10):
        account(f"x{i}", "mail.com", "20.0.0.5", card="card-alpha" if i == 1 else None)
    accounts["x2"] = "beta.io"
    # Operator Y (flagged, no trail): the same hosting provider, webmail.
    for i in range(6):
        account(f"y{i}", "mail.com", "20.0.0.6")
    networks = [
        ("10.0.0.1", "10.0.0.0/24", ORG_A, "corporate"),
        ("30.0.0.1", "30.0.0.0/24", "Beta Corp", "corporate"),
        ("20.0.0.5", "20.0.0.0/24", "Hostco", "datacenter"),
        ("20.0.0.6", "20.0.0.0/24", "Hostco", "datacenter"),
        *((f"50.0.{i}.1", "50.0.0.0/16", "Home ISP", "residential") for i in range(40)),
    ]
    # links: identifiers of two or more accounts
    users: dict[tuple[str, str], list[str]] = {}
    for r in ids:
        users.setdefault((r["kind"], r["value"]), []).append(r["account_id"])
    links = [{"account_id": a, "kind": k, "value": v, "count": 1} for (k, v), us in users.items() if len(us) >= 2 for a in us]
    return {
        "accounts": _table("accounts", [{"account_id": a, "email_domain": d} for a, d in sorted(accounts.items())]),
        "account_identifiers": _table("account_identifiers", ids),
        "links": _table("links", links),
        "labels": _table("labels", [{"account_id": "x3", "operator_label": "OP-X", "organisation": "Alpha Labs"}, *extra_labels]),
        "organisations": _table("organisations", [
            {"org_id": ORG_A, "name": "Alpha Labs", "domains": ["alpha.ai"], "kind": "ai_lab", "country": "FR"},
            {"org_id": ORG_W, "name": "Mail Inc", "domains": ["mail.com"], "kind": "other"},
        ]),
        "ip_owners": _table("ip_owners", [{"cidr": c, "owner": o, "kind": k} for _, c, o, k in networks]),
        "ip_networks": _table("ip_networks", [{"ip": ip, "cidr": c, "owner": o, "net_kind": k} for ip, c, o, k in networks]),
    }


MEMBERSHIP = {"X": [f"x{i}" for i in range(10)], "Y": [f"y{i}" for i in range(6)]}
OPERATORS = [{"operator_id": "X", "size": 10, "flagged": True}, {"operator_id": "Y", "size": 6, "flagged": True}]


def _ties(tables: dict[str, pa.Table], membership: dict[str, list[str]] = MEMBERSHIP, flagged: Iterable[str] = ("X", "Y")) -> set[tuple[str, ...]]:
    registry = build_registry(tables["organisations"], tables["ip_owners"], tables["labels"])
    members = pa.table({
        "account_id": [a for ms in membership.values() for a in ms],
        "operator_id": [op for op, ms in membership.items() for _ in ms],
    })
    ties = find_ties(tables, registry, members, flagged)
    cols = [ties.ties.column(k).to_pylist() for k in ("operator_id", "org_id", "comparison", "account_id", "value")]
    return set(zip(*cols))


# --------------------------------------------------------------------------- registry and ties


def test_registry_resolves_owners_and_labels_to_listed_organisations_and_discovers_the_rest() -> None:
    t = world()
    reg = build_registry(t["organisations"], t["ip_owners"], t["labels"])
    rows = {r["org_id"]: r for r in reg.orgs.to_pylist()}
    assert rows[ORG_A]["confirmed"] and rows[ORG_A]["name"] == "Alpha Labs"
    assert not rows["Beta Corp"]["confirmed"] and rows["Beta Corp"]["source"] == "network owner"
    assert dict(zip(*(reg.label_org.column(k).to_pylist() for k in ("account_id", "org_id")))) == {"x3": ORG_A}
    # a label naming an organisation no table knows creates it, unconfirmed
    reg2 = build_registry(t["organisations"], t["ip_owners"], _table("labels", [{"account_id": "x4", "operator_label": "L", "organisation": " gamma  AI "}]))
    assert {r["org_id"]: r["confirmed"] for r in reg2.orgs.to_pylist()}["gamma  AI"] is False


def test_a_corporate_card_shared_with_open_accounts_ties_the_operator_to_their_organisation() -> None:
    ties = _ties(world())
    assert ("X", ORG_A, "card", "x1", "card-alpha") in ties
    assert not any(op == "Y" and org == ORG_A for op, org, *_ in ties)


def test_a_hosting_range_whose_owner_has_no_open_accounts_says_nothing() -> None:
    assert not any(org == "Hostco" for _, org, *_ in _ties(world()))


def test_a_domain_no_table_lists_belongs_to_the_office_its_users_work_from() -> None:
    t = world()
    ties = _ties(t)
    assert ("X", "Beta Corp", "domain", "x2", "beta.io") in ties


def test_investigators_labels_tie_by_name() -> None:
    assert ("X", ORG_A, "label", "x3", ORG_A) in _ties(world())


def test_open_accounts_inside_the_operator_do_not_vouch_for_it() -> None:
    # X swallows Alpha's open accounts: the card it shares is shared with no one outside X.
    membership = {"X": [*MEMBERSHIP["X"], "a1", "a2", "a3"], "Y": MEMBERSHIP["Y"]}
    ties = _ties(world(), membership, flagged=("Y",))
    assert not any(op == "X" and cmp_ == "card" for op, _, cmp_, *_ in ties)


def test_members_of_a_flagged_campaign_are_nobodys_open_accounts() -> None:
    # Campaign Z holds every account on Alpha's domain: Alpha has no open accounts left, so the
    # card x1 shares with them ties X to nobody.
    ties = _ties(world(), {**MEMBERSHIP, "Z": ["a1", "a2", "a3"]}, flagged=("X", "Y", "Z"))
    assert not any(op == "X" and cmp_ == "card" for op, _, cmp_, *_ in ties)
    assert ("X", "Beta Corp", "domain", "x2", "beta.io") in ties


# --------------------------------------------------------------------------- levels


@given(st.floats(0, 1), st.integers(0, 50), st.integers(1, 50), st.booleans())
@settings(max_examples=200)
def test_tie_levels_are_in_range_and_zero_only_without_a_tie(share: float, tied: int, size: int, campaign: bool) -> None:
    c = O.COMPARISONS[0]
    level = O.tie_level(share, tied, max(size, tied), campaign)
    assert 0 <= level < c.n_levels
    assert (level == 0) == (tied == 0)
    if tied:
        assert c.levels[level].startswith("campaign" if campaign else "open group")


@given(st.lists(st.tuples(st.sampled_from(O.COMPARISON_NAMES), st.sampled_from([0.0, 1e-3, 2e-3, 3e-3, 0.01, 0.05, 0.1, 0.5, 1.0]),
                          st.integers(0, 50), st.integers(1, 50), st.booleans()), min_size=1, max_size=30))
@settings(max_examples=100)
def test_levels_of_many_ties_at_once_are_each_ties_level(ties: list[tuple[str, float, int, int, bool]]) -> None:
    cmp_, share, tied, size, campaign = (np.array(x) for x in zip(*ties))
    expected = [O.label_level(t) if c == "label" else O.tie_level(s, t, n, k) for c, s, t, n, k in ties]
    assert O.levels_of(cmp_, tied, share, size, campaign).tolist() == expected


def test_popularity_buckets_put_a_webmail_domain_apart_from_a_company() -> None:
    assert O.popularity_bucket(0.4) == 0
    assert O.popularity_bucket(0.0004) == len(O.POPULARITY_EDGES)
    assert O.COMPARISONS[0].levels[O.tie_level(0.0004, 1, 80, True)].endswith("<= 0.001 of accounts")


# --------------------------------------------------------------------------- the model


def _levels(rows: list[dict[str, int]]) -> np.ndarray:
    out = np.zeros((len(rows), len(O.COMPARISONS)), dtype=np.int64)
    for i, r in enumerate(rows):
        for name, lvl in r.items():
            out[i, O.COMPARISON_NAMES.index(name)] = lvl
    return out


def test_fitted_m_weighs_levels_no_true_organisation_produced_against_it() -> None:
    rare_leak = O.tie_level(0.0005, 1, 80, True)
    webmail = O.tie_level(0.4, 60, 80, True)
    matches = _levels([{"card": rare_leak}] * 30 + [{"domain": O.tie_level(0.0005, 1, 80, True)}] * 20)
    others = _levels([{"domain": webmail}] * 900 + [{"card": O.tie_level(0.05, 1, 80, True)}] * 100)
    model = O.fit_organisation_model(np.vstack([matches, others]), np.r_[np.ones(50, bool), np.zeros(1000, bool)])
    m, u = model.m_tables(), model.u_tables()
    card, domain = O.COMPARISON_NAMES.index("card"), O.COMPARISON_NAMES.index("domain")
    assert np.log2(m[card][rare_leak] / u[card][rare_leak]) > 8
    assert np.log2(m[domain][webmail] / u[domain][webmail]) < 0
    # the popularity factor: a leak on a domain as rare as a card leak weighs alike
    assert np.log2(m[domain][rare_leak] / u[domain][rare_leak]) > 5
    for mj in m:
        assert mj.sum() == pytest.approx(1.0)


def test_more_members_on_a_tie_never_weigh_less_than_fewer() -> None:
    few, many = O.tie_level(0.0005, 1, 80, True), O.tie_level(0.0005, 60, 80, True)
    # The training truth has campaigns with one member on their lab's rare domain, none with most.
    matches = _levels([{"domain": few}] * 40)
    others = _levels([{"domain": O.tie_level(0.4, 60, 80, True)}] * 900 + [{"domain": many}] * 2)
    model = O.fit_organisation_model(np.vstack([matches, others]), np.r_[np.ones(40, bool), np.zeros(902, bool)])
    m, u = model.m_tables(), model.u_tables()
    domain = O.COMPARISON_NAMES.index("domain")
    w = np.log2(m[domain] / u[domain])
    assert w[many] >= w[few] - 1e-9 and w[few] > 5
    assert w[O.tie_level(0.4, 60, 80, True)] < 0  # a popular tie keeps what the data says
    _status, pop, count = O._split(np.arange(1, len(w)))
    rare_few = np.flatnonzero((count == 0) & (pop >= O.MONOTONE_FROM_BUCKET)) + 1
    for j, name in enumerate(O.COMPARISON_NAMES):
        if name in O.TIE_COMPARISONS:
            ratio = np.log2(m[j] / u[j])
            assert all(ratio[k + 1] >= ratio[k] - 1e-9 for k in rare_few), name
        assert m[j].sum() == pytest.approx(1.0)


def test_u_by_em_with_m_fixed_does_not_count_matches_as_chance() -> None:
    model = O.fit_organisation_model(
        _levels([{"card": 10}] * 20 + [{"domain": 1}] * 400), np.r_[np.ones(20, bool), np.zeros(400, bool)]
    )
    # a bundle with three matches alone at the rare card level and many webmail pairs
    bundle = _levels([{"card": 10}] * 3 + [{"domain": 1}] * 300)
    u, prior = O.estimate_u(bundle, model.m_tables(), model.u_tables())
    card = O.COMPARISON_NAMES.index("card")
    assert u[card][10] < 0.2 * 3 / 303  # counting every pair as chance would say 3/303
    assert 0 < prior < 0.5


def _candidates(rows: list[tuple[str, str, dict[str, int]]]) -> O.Candidates:
    levels = _levels([r for _, _, r in rows])
    evidence = [{name: {"members": 1, "accounts": [f"{op}-acct"], "identifiers": [{"kind": name, "value": "v"}], "popularity": 0.001}
                 for name in r} for op, _, r in rows]
    return O.Candidates([op for op, _, _ in rows], [org for _, org, _ in rows], levels, evidence)


def _fs(prior: float = 0.01) -> Any:
    from sybilgraph.attribution.fellegi_sunter import FSModel

    return FSModel(O.COMPARISON_NAMES, tuple(c.levels for c in O.COMPARISONS),
                   [np.full(c.n_levels, 1 / c.n_levels) for c in O.COMPARISONS],
                   [np.full(c.n_levels, 1 / c.n_levels) for c in O.COMPARISONS], prior=prior)


def test_hypotheses_rank_assert_only_the_best_above_threshold_and_keep_evidence() -> None:
    c = _candidates([("X", "strong", {"card": 10}), ("X", "weak", {"ip": 3}), ("X", "against", {"domain": 1}),
                     ("Y", "lead", {"ip": 3})])
    scores = np.array([20.0, 3.0, -2.0, 3.0])
    hyps = O.hypotheses(c, _fs(), scores, threshold=0.5)
    by = {(h.operator_id, h.org_id): h for h in hyps}
    assert ("X", "against") not in by  # evidence against is no hypothesis
    assert by[("X", "strong")].rank == 1 and by[("X", "strong")].asserted
    assert by[("X", "weak")].rank == 2 and not by[("X", "weak")].asserted
    assert not by[("Y", "lead")].asserted  # the best weak guess is not asserted: unattributed
    assert by[("X", "strong")].evidence[0]["accounts"] == ["X-acct"]
    assert by[("X", "strong")].evidence[0]["identifiers"] == [{"kind": "card", "value": "v"}]
    assert sum(h.probability for h in hyps if h.operator_id == "X") <= 1.0


def test_two_organisations_with_equal_evidence_share_the_probability_and_neither_is_asserted() -> None:
    c = _candidates([("X", "one", {"card": 10}), ("X", "two", {"device": 10})])
    hyps = O.hypotheses(c, _fs(), np.array([15.0, 15.0]), threshold=0.5)
    assert not any(h.asserted for h in hyps)
    assert all(h.probability < 0.5 for h in hyps)


def _naive_hypotheses(c: O.Candidates, fs: Any, scores: np.ndarray, threshold: float,
                      decisions: dict[tuple[str, str], str]) -> list[tuple[Any, ...]]:
    """The ranking rule walked candidate by candidate (the reference the vectorised one must equal)."""
    prior_odds = fs.prior / (1.0 - fs.prior)
    confirmed_of = {op: org for (op, org), d in decisions.items() if d == "confirmed"}
    out = []
    for op in sorted(set(c.operator_id) | set(confirmed_of)):
        rows = [i for i, o in enumerate(c.operator_id) if o == op and decisions.get((op, c.org_id[i])) != "rejected"]
        odds = {i: prior_odds * 2.0 ** min(float(scores[i]), 1000.0) for i in rows}
        total = 1.0 + sum(odds.values())
        scored = [(c.org_id[i], float(scores[i]), odds[i] / total) for i in rows]
        confirmed = confirmed_of.get(op)
        if confirmed is not None and confirmed not in {s[0] for s in scored}:
            scored.append((confirmed, 0.0, 1.0))
        scored.sort(key=lambda s: (s[0] != confirmed, -s[1], s[0]))
        kept = [s for s in scored if s[1] > 0 or s[0] == confirmed][: O.MAX_HYPOTHESES]
        for rank, (org, score, prob) in enumerate(kept, start=1):
            conf = org == confirmed
            out.append((op, org, score, 1.0 if conf else prob, rank, conf or (confirmed is None and rank == 1 and prob >= threshold)))
    return out


@given(st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from(["o1", "o2", "o3", "o4", "o5", "o6", "o7"]),
                          st.floats(-30, 40)), max_size=40, unique_by=lambda r: (r[0], r[1])),
       st.dictionaries(st.tuples(st.sampled_from("ABCDE"), st.sampled_from(["o1", "o2", "o9"])),
                       st.sampled_from(["confirmed", "rejected"]), max_size=4))
@settings(max_examples=150, deadline=None)
def test_hypotheses_equal_the_candidate_by_candidate_rule(rows: list[tuple[str, str, float]],
                                                          decisions: dict[tuple[str, str], str]) -> None:
    confirmed_ops = [op for (op, _), d in decisions.items() if d == "confirmed"]
    if len(confirmed_ops) != len(set(confirmed_ops)):
        return  # one confirmed organisation per operator (the latest decision), as the store keeps it
    c = _candidates([(op, org, {"card": 10}) for op, org, _ in rows])
    scores = np.array([s for _, _, s in rows], dtype=float)
    got = [(h.operator_id, h.org_id, h.score, h.probability, h.rank, h.asserted)
           for h in O.hypotheses(c, _fs(), scores, 0.5, decisions)]
    assert got == _naive_hypotheses(c, _fs(), scores, 0.5, decisions)


def test_analysts_decisions_win_over_the_model() -> None:
    c = _candidates([("X", "strong", {"card": 10}), ("X", "other", {"ip": 3}), ("Y", "lead", {"ip": 3})])
    scores = np.array([20.0, 3.0, 3.0])
    decisions = {("X", "strong"): "rejected", ("Y", "named-by-analyst"): "confirmed"}
    by = {(h.operator_id, h.org_id): h for h in O.hypotheses(c, _fs(), scores, 0.5, decisions)}
    assert ("X", "strong") not in by
    assert not by[("X", "other")].asserted
    confirmed = by[("Y", "named-by-analyst")]
    assert confirmed.asserted and confirmed.rank == 1 and confirmed.probability == 1.0 and confirmed.decision == "confirmed"
    assert by[("Y", "lead")].rank == 2 and not by[("Y", "lead")].asserted


def test_the_step_end_to_end_on_the_small_world() -> None:
    t = world()
    model = O.fit_organisation_model(
        _levels([{"card": O.tie_level(0.05, 1, 10, True)}] * 40 + [{"domain": O.tie_level(0.4, 9, 10, True)}] * 200
                + [{"card": O.tie_level(0.05, 1, 10, True)}] * 2),
        np.r_[np.ones(40, bool), np.zeros(202, bool)],
    )
    res = O.attribute_organisations(t, MEMBERSHIP, OPERATORS, model=model, keep_candidates=True)
    assert res.asserted() == {"X": ORG_A}
    assert res.cases() == {ORG_A: ["X"]}
    x = next(h for h in res.hypotheses if h.operator_id == "X" and h.rank == 1)
    named = {a for e in x.evidence for a in e["accounts"]}
    assert {"x1", "x3"} <= named  # the card and the label
    assert {i["value"] for e in x.evidence for i in e["identifiers"]} >= {"card-alpha", ORG_A}
    assert not any(h.org_id == ORG_W and h.rank == 1 for h in res.hypotheses)  # the webmail provider leads nowhere
    rows = res.rows()
    assert {r["org_id"]: r["org_confirmed"] for r in rows}[ORG_A] is True
    assert res.counts["organisation_candidates"] == len(res.candidates)
