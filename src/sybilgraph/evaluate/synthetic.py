"""A synthetic account-identifier pair table, for benchmarking the baselines and the metrics.

Not the data generator (``sybilgraph.generate`` writes full bundles); this builds only what the
baselines read, ``(account_id, kind, value)`` pairs, plus a matching truth and labels table,
with the structures that make attribution hard, at a chosen scale (scale 1.0 = 250,000
accounts; scale 0.2 = 50,000 accounts, ~0.8 M distinct pairs):

* distillation campaigns (~10 % of accounts, a dozen operators of 20-1,500 accounts) rotating
  through private proxy pools, sharing VM device fingerprints and reusing prepaid cards, some
  also through residential proxies (other users' home IPs); one egresses through a single cloud
  IP shared by all its accounts; one ("hydra") shares no card at all;
* organisations (10-300 accounts) behind 1-3 office IPs, half on one corporate card;
* households (2-5 accounts) on one home IP, sometimes one card;
* standalone users; everyone benign roams a carrier-grade-NAT pool (IPs shared by thousands of
  accounts) and a few public Wi-Fi IPs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["SyntheticPairs", "synthetic_pairs"]


@dataclass(frozen=True)
class SyntheticPairs:
    pairs: pa.Table  # account_id, kind, value (distinct rows)
    truth: pd.DataFrame  # account_id, operator, is_distillation
    labels: pd.DataFrame  # account_id, operator_label, source


def _names(prefix: str, values: Iterable[object]) -> np.ndarray:
    """``prefix + str(v)`` for every value, as an object array."""
    return np.array([f"{prefix}{v}" for v in values], dtype=object)


_CAMPAIGN_SHARES = (0.30, 0.18, 0.12, 0.08, 0.07, 0.06, 0.05, 0.04, 0.04, 0.03, 0.02, 0.01)


def synthetic_pairs(scale: float = 0.2, seed: int = 0) -> SyntheticPairs:
    """Pairs, truth and labels for ``round(250_000 * scale)`` accounts (deterministic in seed)."""
    rng = np.random.default_rng(seed)
    n = max(200, int(round(250_000 * scale)))
    acc_ids = np.array([f"acct-{i:07d}" for i in rng.permutation(n)], dtype=object)
    operator = np.full(n, "", dtype=object)
    fake = np.zeros(n, dtype=bool)

    rows_acc: list[np.ndarray] = []
    rows_kind: list[str] = []
    rows_val: list[np.ndarray] = []

    def emit(accounts: np.ndarray, kind: str, values: np.ndarray) -> None:
        rows_acc.append(np.asarray(accounts, dtype=np.int64))
        rows_val.append(np.asarray(values, dtype=object))
        rows_kind.append(kind)

    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        out = np.arange(cursor, min(cursor + k, n))
        cursor += len(out)
        return out

    # --- distillation campaigns
    n_fake = int(0.10 * n)
    camp_members: list[np.ndarray] = []
    for c, share in enumerate(_CAMPAIGN_SHARES):
        members = take(max(20, int(share * n_fake)))
        name = f"camp-{c:02d}"
        operator[members] = name
        fake[members] = True
        camp_members.append(members)
        m = len(members)
        pool = max(5, m // 6)
        per = rng.integers(3, 26, m)
        a = np.repeat(members, per)
        emit(a, "ip", _names(f"dc-{c}-", rng.integers(0, pool, a.size)))
        if c == 3:  # one campaign egresses through a single cloud IP
            emit(members, "ip", np.full(m, f"cloud-egress-{c}", dtype=object))
        dev_pool = max(2, m // 10)
        emit(members, "device", _names(f"vm-{c}-", rng.integers(0, dev_pool, m)))
        if c != 5:  # campaign 5 is a hydra: a fresh card per account
            emit(members, "card", _names(f"prepaid-{c}-", rng.integers(0, max(1, m // 4), m)))
        else:
            emit(members, "card", _names(f"card-h{c}-", range(m)))

    # --- organisations
    org_members: list[np.ndarray] = []
    n_org = int(0.08 * n)
    o = 0
    while n_org > 0 and cursor < n:
        size = int(min(n_org, rng.integers(10, 301)))
        members = take(size)
        n_org -= len(members)
        operator[members] = f"org-{o:04d}"
        offices = rng.integers(1, 4)
        emit(members, "ip", _names(f"office-{o}-", rng.integers(0, offices, len(members))))
        if rng.random() < 0.5:
            emit(members, "card", np.full(len(members), f"corp-{o}", dtype=object))
        else:
            emit(members, "card", _names(f"card-o{o}-", range(len(members))))
        org_members.append(members)
        o += 1

    # --- households
    home_of = np.full(n, -1, dtype=np.int64)
    n_hh = int(0.12 * n)
    h = 0
    while n_hh > 0 and cursor < n:
        size = int(min(n_hh, rng.integers(2, 6)))
        members = take(size)
        n_hh -= len(members)
        operator[members] = f"hh-{h:05d}"
        home_of[members] = h
        if rng.random() < 0.3:
            emit(members, "card", np.full(len(members), f"family-card-{h}", dtype=object))
        else:
            emit(members, "card", _names(f"card-f{h}-", range(len(members))))
        h += 1

    # --- standalone
    rest = take(n)
    home_of[rest] = h + np.arange(len(rest))
    has_card = rest[rng.random(len(rest)) < 0.9]
    emit(has_card, "card", _names("card-s", has_card))

    # --- everyone benign: home IP, devices, carrier NAT, public Wi-Fi
    benign = np.flatnonzero(~fake)
    homed = benign[home_of[benign] >= 0]
    emit(homed, "ip", _names("home-", home_of[homed]))
    ndev = rng.integers(1, 3, benign.size)
    a = np.repeat(benign, ndev)
    emit(a, "device", np.array([f"dev-{x}-{j}" for j, x in enumerate(a)], dtype=object))
    mobile = benign[rng.random(benign.size) < 0.6]
    nat_pool = max(10, n // 250)
    k = rng.integers(2, 21, mobile.size)
    a = np.repeat(mobile, k)
    emit(a, "ip", _names("cgnat-", rng.integers(0, nat_pool, a.size)))
    cafe = benign[rng.random(benign.size) < 0.3]
    k = rng.integers(1, 3, cafe.size)
    a = np.repeat(cafe, k)
    emit(a, "ip", _names("wifi-", rng.integers(0, max(10, n // 25), a.size)))

    # --- residential proxies: campaigns borrow benign home IPs
    homes = np.unique(home_of[homed])
    for c, members in enumerate(camp_members):
        if c % 3 == 1:
            users = members[rng.random(len(members)) < 0.3]
            emit(users, "ip", _names("home-", rng.choice(homes, users.size)))

    acc = np.concatenate(rows_acc)
    kinds = np.concatenate([np.full(len(r), k, dtype=object) for r, k in zip(rows_acc, rows_kind)])
    vals = np.concatenate(rows_val)
    df = pd.DataFrame({"account_id": acc_ids[acc], "kind": kinds, "value": vals}).drop_duplicates()
    pairs = pa.Table.from_pandas(df.astype(str), preserve_index=False)

    truth = pd.DataFrame({"account_id": acc_ids, "operator": operator, "is_distillation": fake})
    lab_rows: list[tuple[str, str, str]] = []
    for c, members in enumerate(camp_members):
        if c % 2 == 0:
            chosen = rng.choice(members, max(1, len(members) // 20), replace=False)
            lab_rows += [(acc_ids[i], f"OP-{c:02d}", "investigation") for i in chosen]
    labels = pd.DataFrame(lab_rows, columns=["account_id", "operator_label", "source"])
    return SyntheticPairs(pairs=pairs, truth=truth, labels=labels)
