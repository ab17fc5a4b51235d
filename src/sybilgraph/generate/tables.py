"""The small and medium tables: accounts, payment_methods, sessions, labels, truth.

Why separate from activity.py: these tables fit in memory whole at scale 1.0 (a few million
session rows at most), so each is drawn in one vectorised pass over the population and written
as a single file. Column names and types come from the contract (writer.arrow_schema), so a
contract change breaks here loudly rather than producing a bundle that readers reject.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from sybilgraph.generate import vocab
from sybilgraph.generate.activity import HOURS
from sybilgraph.generate.config import BENIGN_START, OPERATORS
from sybilgraph.generate.ids import row_ids
from sybilgraph.generate.population import ALL_BINS, STATUS_NAMES, STATUS_SUSPENDED, Population
from sybilgraph.generate.sampling import pick_from_pools, sample_times
from sybilgraph.generate.writer import TIMESTAMP, table_from_columns

__all__ = [
    "LABEL_SHARE",
    "MIN_LABELS",
    "accounts_table",
    "labels_table",
    "payment_methods_table",
    "sessions_table",
    "truth_table",
]

# Investigators know 2% of a labelled operator's accounts (never fewer than 3).
LABEL_SHARE = 0.02
MIN_LABELS = 3

_COUNTRY_TEXT = pa.array(vocab.COUNTRIES, type=pa.string())
_STATUS_TEXT = pa.array(STATUS_NAMES, type=pa.string())
_BIN_TEXT = pa.array(ALL_BINS, type=pa.string())
_LAST4_TEXT = pa.array([f"{i:04d}" for i in range(10_000)], type=pa.string())
_table = table_from_columns


def account_order(pop: Population) -> np.ndarray:
    """Accounts (their primary personas) in export order: by creation time (ties by index)."""
    order = np.lexsort((np.arange(pop.n), pop.a["created"]))
    return order[pop.primary[order]]


def controller(pop: Population) -> np.ndarray:
    """Per persona: the persona that controls its account at the end of the data (a hijacked
    account belongs to the operator that took it over)."""
    out = np.arange(pop.n)
    later = np.flatnonzero(~pop.primary)
    out[pop.a["owner"][later]] = later
    return out


def accounts_table(pop: Population) -> pa.Table:
    a = pop.a
    order = account_order(pop)
    signup_ip = pop.ip_flat[pop.ip_ptr[:-1]]  # the primary line (rank 0)
    return _table(
        "accounts",
        {
            "account_id": pop.account_id.take(order),
            "created_at": pa.array(a["created"][order], type=TIMESTAMP),
            "email_domain": pa.array(pop.domains, type=pa.string()).take(a["domain"][order]),
            "country": _COUNTRY_TEXT.take(a["country"][order]),
            "signup_ip": pop.ip_text.take(signup_ip[order]),
            "status": _STATUS_TEXT.take(a["status"][order]),
        },
    )


def payment_methods_table(pop: Population) -> pa.Table:
    a = pop.a
    acct = pop.inst_account
    item = pop.inst_item
    created = a["created"][acct]
    added = np.clip(pop.inst_added, created, np.maximum(created, a["end"][acct] - 1))
    return _table(
        "payment_methods",
        {
            "account_id": pop.account_id.take(acct),
            "instrument_id": pop.inst_text.take(item),
            "bin": _BIN_TEXT.take(pop.inst_bin[item]),
            "last4": _LAST4_TEXT.take(pop.inst_last4[item]),
            "issuer_country": _COUNTRY_TEXT.take(pop.inst_country[item]),
            "added_at": pa.array(added, type=TIMESTAMP),
        },
    )


def sessions_table(pop: Population) -> pa.Table:
    """Logins and console visits. The first session of an account created inside the data's
    horizon is its sign-up, from its sign-up IP and primary device. A hijacker's persona starts
    with the login that took the account over."""
    a = pop.a
    rng = np.random.default_rng([pop.seed, 20])
    human_extra = np.minimum(25.0, 1.0 + pop.n_interactions / 15.0)
    extra = np.where(a["human"], human_extra, a["sess_extra"])
    count = 1 + rng.poisson(extra)
    owner = np.repeat(np.arange(pop.n), count)
    first = np.zeros(len(owner), dtype=bool)
    first[np.cumsum(count) - count] = True
    signup = first & (a["created"][owner] >= BENIGN_START)
    takeover = first & ~pop.primary[owner]
    signup &= ~takeover
    ts = sample_times(
        rng, HOURS, a["start"][owner], a["end"][owner], a["hour_profile"][owner], a["tz"][owner], a["office"][owner]
    )
    ts[signup] = a["created"][owner[signup]] + rng.integers(5_000, 120_000, int(signup.sum()))
    if takeover.any():
        ts[takeover] = a["start"][owner[takeover]]
    ip = pick_from_pools(rng, pop.ip_ptr, pop.ip_flat, owner, a["ip_skew"][owner])
    ip[signup] = pop.ip_flat[pop.ip_ptr[owner[signup]]]
    dev = pick_from_pools(rng, pop.dev_ptr, pop.dev_flat, owner, 2.0)
    dev[signup] = pop.dev_flat[pop.dev_ptr[owner[signup]]]

    order = np.lexsort((owner, ts))
    owner, ts, ip, dev = owner[order], ts[order], ip[order], dev[order]
    columns = {
        "account_id": pop.account_id.take(owner),
        "ts": pa.array(ts, type=TIMESTAMP),
        "ip": pop.ip_text.take(ip),
        "device_id": pop.device_text.take(dev),
        "user_agent": pop.ua_text.take(pop.device_ua[dev]),
        "tls_fingerprint": pop.tls_text.take(pop.device_tls[dev]),
    }
    if pop.world is not None:
        columns["session_id"] = row_ids("ses", pop.world.salt, np.arange(len(owner)))
    return _table("sessions", columns)


def label_accounts(pop: Population) -> list[tuple[int, str, str]]:
    """(account index, label, source) of the accounts investigators already know.

    Reported accounts are mostly the ones already suspended, so those are five times likelier.
    """
    rng = np.random.default_rng([pop.seed, 30])
    out: list[tuple[int, str, str]] = []
    for op, spec in enumerate(OPERATORS):
        if spec.label is None:
            continue
        members = np.flatnonzero(pop.a["op"] == op)
        k = min(len(members), max(MIN_LABELS, round(LABEL_SHARE * len(members))))
        w = np.where(pop.a["status"][members] == STATUS_SUSPENDED, 5.0, 1.0)
        chosen = np.sort(rng.choice(members, k, replace=False, p=w / w.sum()))
        out.extend((int(i), spec.label, spec.label_source or "") for i in chosen)
    return out


def labels_table(pop: Population) -> pa.Table:
    rows = label_accounts(pop)
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    return _table(
        "labels",
        {
            "account_id": pop.account_id.take(idx),
            "operator_label": pa.array([r[1] for r in rows], type=pa.string()),
            "source": pa.array([r[2] for r in rows], type=pa.string()),
        },
    )


def truth_table(pop: Population, organisations: Sequence[str] | None = None) -> pa.Table:
    """Every account: its true controlling operator (null when it stands alone) and whether that
    operator runs a distillation campaign; with ``organisations`` (how data names each
    organisation of the world) also the organisation behind it or employing it."""
    order = account_order(pop)
    who = controller(pop)[order]
    group = pop.a["group"][who]
    names = pa.array(pop.groups, type=pa.string())
    is_dist = np.array([*pop.group_is_distillation, False], dtype=bool)[group]  # -1 -> False
    columns = {
        "account_id": pop.account_id.take(order),
        "operator": names.take(pa.array(np.maximum(group, 0), mask=group < 0)),
        "is_distillation": pa.array(is_dist, type=pa.bool_()),
    }
    if organisations is not None:
        org = pop.a["org"][who]
        columns["organisation"] = pa.array(list(organisations), type=pa.string()).take(
            pa.array(np.maximum(org, 0), mask=org < 0)
        )
    return _table("truth", columns)
