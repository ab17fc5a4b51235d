"""Per-account behaviour as numpy arrays, aligned with the integer ids of ``pairs.PairTables`` (pure).

Built once per run from the aggregated account features (ingest's account table): the hour-of-day
profile (UTC, from the 168-bin hour-of-week histogram), the task-category mix, the output/input
token ratio, the share of requests made with an API key, creation time and the active period.
Accounts with fewer than ``MIN_REQUESTS_FOR_PROFILE`` requests have no profile (NaN): too few
requests to say anything about their habits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["CONCEALING_NETWORKS", "MIN_REQUESTS_FOR_PROFILE", "TASK_CATEGORIES", "Profiles", "build_profiles"]

MIN_REQUESTS_FOR_PROFILE = 20
HOURS = 24
TASK_CATEGORIES = frozenset({"reasoning", "coding", "math", "agentic"})
# Network kinds (ip_owners.kind) that hide who is behind a request.
CONCEALING_NETWORKS = ("datacenter", "proxy", "vpn")
NETWORK_KINDS = ("residential", "mobile", "datacenter", "vpn", "proxy", "education", "corporate")


@dataclass
class Profiles:
    hod: np.ndarray  # (N, 24) unit vectors, NaN rows without a profile
    cat: np.ndarray  # (N, K) unit vectors
    categories: tuple[str, ...]
    log_ratio: np.ndarray  # ln(output / input tokens), NaN when unknown
    api_share: np.ndarray  # share of requests with an API key, NaN without requests
    created: np.ndarray  # epoch ms
    first: np.ndarray  # first / last interaction, epoch ms, NaN without requests
    last: np.ndarray
    n_interactions: np.ndarray
    task_share: np.ndarray  # share of reasoning, coding, math and agentic requests
    quiet_share: np.ndarray  # share of activity in the quietest 8 hours of the day
    weekday_share: np.ndarray  # share of activity Monday to Friday (5/7 when flat)
    concealed_share: np.ndarray  # share of activity from datacenter, proxy or VPN networks (NaN: unknown)


def _unit(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, m / norm, np.nan)


def build_profiles(accounts: pa.Table, account_ids: np.ndarray) -> Profiles:
    """Profiles in the order of ``account_ids`` (accounts missing from the table get none)."""
    n = len(account_ids)
    ids = accounts.column("account_id").to_numpy(zero_copy_only=False)
    order = {a: i for i, a in enumerate(account_ids)}
    pos = np.array([order.get(a, -1) for a in ids], dtype=np.int64)
    keep = pos >= 0
    pos = pos[keep]

    def col(name: str, default: float = np.nan) -> np.ndarray:
        out = np.full(n, default, dtype=float)
        if name in accounts.column_names:
            vals = np.array(accounts.column(name).to_pylist(), dtype=float)
            out[pos] = vals[keep]
        return out

    n_int = np.nan_to_num(col("n_interactions", 0.0))
    hour_hist = accounts.column("hour_hist").to_pylist()
    hod = np.full((n, HOURS), np.nan)
    dow = np.full((n, 7), np.nan)
    for p, h in zip(pos, (h for h, k in zip(hour_hist, keep) if k)):
        if h and len(h) == 7 * HOURS:
            week = np.asarray(h, dtype=float).reshape(7, HOURS)  # ISO weekday 1..7 -> rows 0..6
            hod[p] = week.sum(axis=0)
            dow[p] = week.sum(axis=1)
    names = accounts.column("category_names").to_pylist()
    counts = accounts.column("category_counts").to_pylist()
    vocab = tuple(sorted({c for row in names if row for c in row}))
    where = {c: i for i, c in enumerate(vocab)}
    cat = np.zeros((n, max(len(vocab), 1)))
    for p, ns, cs in zip(pos, (x for x, k in zip(names, keep) if k), (x for x, k in zip(counts, keep) if k)):
        for c, v in zip(ns or (), cs or ()):
            cat[p, where[c]] = v
    enough = n_int >= MIN_REQUESTS_FOR_PROFILE
    total_hours = np.nansum(hod, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        circular = np.concatenate([np.nan_to_num(hod), np.nan_to_num(hod)[:, :7]], axis=1)
        windows = np.stack([circular[:, i : i + 8].sum(axis=1) for i in range(HOURS)], axis=1)
        quiet = np.where(enough & (total_hours > 0), windows.min(axis=1) / total_hours, np.nan)
        weekday = np.where(enough & (total_hours > 0), np.nansum(dow[:, :5], axis=1) / total_hours, np.nan)
    hod = np.where(enough[:, None], _unit(np.nan_to_num(hod)), np.nan)
    task_cols = [where[c] for c in vocab if c in TASK_CATEGORIES]
    with np.errstate(invalid="ignore", divide="ignore"):
        task_share = np.where(enough, cat[:, task_cols].sum(axis=1) / cat.sum(axis=1), np.nan) if task_cols else np.full(n, np.nan)
    cat = np.where(enough[:, None], _unit(cat), np.nan)
    inp, outp = col("input_tokens"), col("output_tokens")
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.where((inp > 0) & (outp > 0), np.log(outp / inp), np.nan)
        api = col("n_api_key_requests")
        api_share = np.where(n_int > 0, api / n_int, np.nan)
    net = {k: col(f"n_{k}", 0.0) for k in NETWORK_KINDS}
    known_net = sum(np.nan_to_num(v) for v in net.values())
    hidden = sum(np.nan_to_num(net[k]) for k in CONCEALING_NETWORKS)
    with np.errstate(invalid="ignore", divide="ignore"):
        concealed = np.where(known_net > 0, hidden / known_net, np.nan)
    return Profiles(
        hod=hod,
        cat=cat,
        categories=vocab,
        log_ratio=log_ratio,
        api_share=api_share,
        created=col("created_at"),
        first=col("first_interaction"),
        last=col("last_interaction"),
        n_interactions=n_int,
        task_share=task_share,
        quiet_share=quiet,
        weekday_share=weekday,
        concealed_share=concealed,
    )
