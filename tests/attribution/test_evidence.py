"""Evidence tables against a brute-force count in plain Python (no database)."""

from __future__ import annotations

import json
from collections import defaultdict

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.evidence import evidence_tables

KINDS = ["card", "ip", "template", "tls"]


def _weight(kind: str, value: int) -> float:
    return round(1.0 + KINDS.index(kind) * 0.5 + value * 0.01, 3)  # one weight per identifier


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 14), st.sampled_from(KINDS), st.integers(0, 6)), min_size=1, max_size=80, unique=True),
    st.lists(st.integers(0, 3), min_size=15, max_size=15),
)
def test_evidence_matches_a_brute_force_count(links: list[tuple[int, str, int]], op_of: list[int]) -> None:
    wl = pa.table({
        "account_id": [f"a{a:02d}" for a, _, _ in links],
        "kind": [k for _, k, _ in links],
        "value": [f"v{v}" for _, _, v in links],
        "n_accounts": pa.array([50] * len(links), pa.int64()),
        "w": [_weight(k, v) for _, k, v in links],
    })
    members = [a for a in range(15) if a % 4 != 3]  # some accounts are unattributed
    membership = pa.table({"account_id": [f"a{a:02d}" for a in members], "operator_id": [f"op{op_of[a]}" for a in members]})
    ev = evidence_tables(wl, membership)

    sharing: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    operator = {f"a{a:02d}": f"op{op_of[a]}" for a in members}
    for a, k, v in links:
        acc = f"a{a:02d}"
        if acc in operator:
            sharing[(operator[acc], k, f"v{v}")].add(acc)
    shared = {key: accs for key, accs in sharing.items() if len(accs) >= 2}

    for (op, kind, value), accs in shared.items():
        items = json.loads(ev.operators[op]["evidence_json"])
        ranked = sorted(((len(a) * _weight(k, int(v[1:])), k, v) for (o, k, v), a in shared.items() if o == op),
                        key=lambda t: (-t[0], t[1], t[2]))[:10]
        assert [(i["kind"], i["value"]) for i in items] == [(k, v) for _, k, v in ranked]
        tops = {k: max((len(a) for (o, kk, _), a in shared.items() if o == op and kk == k), default=0) for k in ("template", "tls")}
        assert ev.operators[op]["top_template_members"] == tops["template"]
        assert ev.operators[op]["top_tls_members"] == tops["tls"]
    for acc, op in operator.items():
        mine = sorted(((len(a) * _weight(k, int(v[1:])), k, v, len(a)) for (o, k, v), a in shared.items() if o == op and acc in a),
                      key=lambda t: (-t[0], t[1], t[2]))[:5]
        got = json.loads(ev.accounts.get(acc, "[]"))
        assert [(i["kind"], i["value"], i["members_sharing"]) for i in got] == [(k, v, n) for _, k, v, n in mine]
    assert set(ev.operators) == {op for op, _, _ in shared}
