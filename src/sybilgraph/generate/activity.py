"""The interactions table: tens of millions of API requests, drawn chunk by chunk.

Why chunks of accounts: memory stays bounded (one ~2M-row part at a time) and every row of an
account is drawn in the same chunk, so per-account structure (sittings of a person, the
scheduler tick of an operator) needs no coordination between chunks. Accounts are assigned to
chunks in a seeded random order, so each part mixes benign and fake accounts like a real export.

Each row's fields are drawn from the account's pools (population.Population) in one vectorised
pass: time (hour-of-day profile, sittings for people, scheduler ticks for the careful
operator), IP and device (skewed towards the account's primary ones), API key (none for
web-app requests), prompt template (a popular tool's, the group's pool, the account's own, or a
free-form prompt with a fingerprint of its own), category, model and token counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sybilgraph.generate import vocab
from sybilgraph.generate.ids import hex_strings
from sybilgraph.generate.population import HOUR_NAMES, MIX_NAMES, MODEL_PROFILE_NAMES, Population
from sybilgraph.generate.sampling import ProfileSampler, pick_from_pools, sample_times, wrap_into
from sybilgraph.generate.ids import row_ids
from sybilgraph.generate.writer import TIMESTAMP, table_from_columns

__all__ = ["HOURS", "SYNC_JITTER_MS", "SYNC_PERIOD_MS", "interaction_parts", "plan_parts"]

HOURS = ProfileSampler(np.stack([vocab.HOUR_PROFILES[k] for k in HOUR_NAMES]))
_MIXES = ProfileSampler(np.stack([vocab.MIXES[k] for k in MIX_NAMES]))
_MODELS = ProfileSampler(np.stack([vocab.MODEL_PROFILES[k] for k in MODEL_PROFILE_NAMES]))
_MODEL_TEXT = pa.array(vocab.MODELS, type=pa.string())
_CATEGORY_TEXT = pa.array(vocab.CATEGORIES, type=pa.string())

# The careful operator's scheduler fires every 5 minutes; its requests leave within 12 s.
SYNC_PERIOD_MS = 300_000
SYNC_JITTER_MS = 12_000
_SITTING_GAP_MS = 4 * 60_000  # mean gap between a person's requests within one sitting
_MAX_INPUT_TOKENS = 200_000


def plan_parts(pop: Population, rows_per_part: int) -> list[np.ndarray]:
    """Accounts of each part (seeded random order, ~equal row counts, at least two parts)."""
    rng = np.random.default_rng([pop.seed, 10])
    order = rng.permutation(pop.n)
    order = order[pop.n_interactions[order] > 0]
    if len(order) == 0:
        return []
    csum = np.cumsum(pop.n_interactions[order])
    total = int(csum[-1])
    n_parts = max(2, math.ceil(total / rows_per_part))
    cuts = np.searchsorted(csum, total * np.arange(1, n_parts) / n_parts, side="left") + 1
    parts = [p for p in np.split(order, np.minimum(cuts, len(order))) if len(p)]
    return parts


def interaction_parts(pop: Population, parts: list[np.ndarray]) -> Iterator[pa.Table]:
    """Yield one Arrow table per part, rows sorted by time."""
    first_row = 0
    for i, accts in enumerate(parts):
        rng = np.random.default_rng([pop.seed, 11, i])
        table = _chunk(pop, np.sort(accts), rng, first_row)
        first_row += table.num_rows
        yield table


def _chunk(pop: Population, accts: np.ndarray, rng: np.random.Generator, first_row: int) -> pa.Table:
    a = pop.a
    n_per = pop.n_interactions[accts]
    row = np.repeat(accts, n_per)
    n = len(row)
    ts = _times(pop, accts, n_per, row, rng)
    ip = pick_from_pools(rng, pop.ip_ptr, pop.ip_flat, row, a["ip_skew"][row])
    dev = pick_from_pools(rng, pop.dev_ptr, pop.dev_flat, row, 2.0)
    web = rng.random(n) < a["p_web"][row]
    key = pop.key_ptr[row] + (rng.random(n) * a["n_keys"][row]).astype(np.int64)
    fp, cat = _templates(pop, row, rng)
    model = _MODELS.sample(rng, a["model_profile"][row])
    input_tokens, output_tokens = _tokens(pop, row, cat, model, rng)

    # Rows are grouped by account in ascending order, so a stable sort on time alone breaks
    # ties by account: the same order as sorting on (ts, account), at a fraction of the cost.
    order = np.argsort(ts, kind="stable")
    columns = {
        "account_id": pop.account_id.take(row[order]),
        "ts": pa.array(ts[order], type=TIMESTAMP),
        "ip": pop.ip_text.take(ip[order]),
        "device_id": pop.device_text.take(dev[order]),
        "api_key_id": pop.key_text.take(pa.array(key[order], mask=web[order])),
        "model": _MODEL_TEXT.take(model[order]),
        "input_tokens": pa.array(input_tokens[order], type=pa.int64()),
        "output_tokens": pa.array(output_tokens[order], type=pa.int64()),
        "prompt_fingerprint": hex_strings(fp[order]),
        "category": _CATEGORY_TEXT.take(cat[order]),
    }
    if pop.world is not None:  # ids are new in the contract; classic bundles stay as they were
        columns["interaction_id"] = row_ids("int", pop.world.salt, np.arange(first_row, first_row + n))
    return table_from_columns("interactions", columns)


def _times(
    pop: Population, accts: np.ndarray, n_per: np.ndarray, row: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Request times: sittings for people, profile draws for machines, ticks for the scheduler."""
    a = pop.a
    ts = np.empty(len(row), dtype=np.int64)
    human_row = a["human"][row]

    mach = row[~human_row]
    t = sample_times(
        rng, HOURS, a["start"][mach], a["end"][mach], a["hour_profile"][mach], a["tz"][mach], a["office"][mach]
    )
    sync = a["sync"][mach]
    if sync.any():
        phase = pop.sync_phase_ms
        tick = (t[sync] - phase) // SYNC_PERIOD_MS * SYNC_PERIOD_MS + phase
        t_sync = tick + rng.integers(0, SYNC_JITTER_MS, int(sync.sum()))
        # Ticks past the window's edges fold back onto the first whole tick inside it.
        s, e = a["start"][mach][sync], a["end"][mach][sync]
        first_tick = -((phase - s) // SYNC_PERIOD_MS) * SYNC_PERIOD_MS + phase
        outside = (t_sync < s) | (t_sync >= e)
        t_sync[outside] = first_tick[outside] + (t_sync[outside] - tick[outside])
        t[sync] = np.minimum(t_sync, e - 1)
    ts[~human_row] = t

    # People: draw sittings, then scatter each account's requests over its sittings.
    hum = accts[a["human"][accts]]
    if len(hum):
        hn = n_per[a["human"][accts]]
        per_sitting = 3 + rng.poisson(3.0, len(hum))
        k = np.maximum(1, -(-hn // per_sitting))
        owner = np.repeat(hum, k)
        sit = sample_times(
            rng, HOURS, a["start"][owner], a["end"][owner], a["hour_profile"][owner], a["tz"][owner], a["office"][owner]
        )
        sit_ptr = np.cumsum(k) - k
        pos = np.repeat(np.arange(len(hum)), hn)
        which = sit_ptr[pos] + (rng.random(len(pos)) * k[pos]).astype(np.int64)
        gap = np.minimum(rng.exponential(_SITTING_GAP_MS * 2, len(pos)), 90 * 60_000).astype(np.int64)
        hr = row[human_row]
        ts[human_row] = wrap_into(sit[which] + gap, a["start"][hr], a["end"][hr])
    return ts


def _templates(pop: Population, row: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(prompt fingerprint, category) per row."""
    a = pop.a
    n = len(row)
    u = rng.random(n)
    v = rng.random(n)
    c_pop = a["p_pop"][row]
    c_group = c_pop + a["p_group"][row] * (a["pool_len"][row] > 0)
    c_pers = c_group + a["p_personal"][row] * (a["personal_len"][row] > 0)
    tid = np.full(n, -1, dtype=np.int64)

    popular = u < c_pop
    tid[popular] = pop.popular_start + np.minimum(
        np.searchsorted(pop.popular_cdf, v[popular], side="right"), pop.popular_count - 1
    )
    group = ~popular & (u < c_group)
    g = row[group]
    window = np.maximum(a["pool_window"][g], 1).astype(np.int64)
    step = (v[group] * window).astype(np.int64) * a["pool_stride"][g]
    tid[group] = a["pool_start"][g] + (a["pool_offset"][g] + step) % a["pool_len"][g]
    personal = ~popular & ~group & (u < c_pers)
    p = row[personal]
    tid[personal] = a["personal_start"][p] + (v[personal] * a["personal_len"][p]).astype(np.int64)

    free = tid < 0
    fp = np.empty(n, dtype=np.uint64)
    cat = np.empty(n, dtype=np.int64)
    fp[~free] = pop.template_fp[tid[~free]]
    cat[~free] = pop.template_cat[tid[~free]]
    # Free-form prompts: a fingerprint nobody else will produce.
    fp[free] = rng.integers(0, np.iinfo(np.uint64).max, int(free.sum()), dtype=np.uint64, endpoint=True)
    cat[free] = _MIXES.sample(rng, a["mix"][row[free]])
    return fp, cat


def _tokens(
    pop: Population, row: np.ndarray, cat: np.ndarray, model: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Lognormal token counts by category, shifted per account (distillers ask for long traces)."""
    a = pop.a
    n = len(row)
    mu = vocab.TOKEN_LOG_MEANS[cat]
    inp = np.exp(mu[:, 0] + a["in_shift"][row] + rng.normal(0.0, 0.6, n))
    out = np.exp(mu[:, 1] + a["out_shift"][row] + rng.normal(0.0, 0.7, n))
    inp = np.clip(inp, 1, _MAX_INPUT_TOKENS).astype(np.int64)
    out = np.minimum(np.maximum(out, 1).astype(np.int64), vocab.MODEL_MAX_OUTPUT[model])
    return inp, out
