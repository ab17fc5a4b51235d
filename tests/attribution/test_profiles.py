"""build_profiles is columnar; these tests hold it to the row-by-row definition it replaced."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.attribution.profiles import HOURS, build_profiles

CATEGORIES = ("agentic", "chat", "coding", "math", "reasoning")


def reference_week(hour_hist: list, pos: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The row-by-row definition: a whole 168-bin week per account, else NaN."""
    hod = np.full((n, HOURS), np.nan)
    dow = np.full((n, 7), np.nan)
    for p, h in zip(pos, hour_hist):
        if p >= 0 and h and len(h) == 7 * HOURS:
            week = np.asarray(h, dtype=float).reshape(7, HOURS)
            hod[p] = week.sum(axis=0)
            dow[p] = week.sum(axis=1)
    return hod, dow


def reference_categories(names: list, counts: list, pos: list[int], n: int) -> tuple[tuple[str, ...], np.ndarray]:
    vocab = tuple(sorted({c for row in names if row for c in row}))
    where = {c: i for i, c in enumerate(vocab)}
    cat = np.zeros((n, max(len(vocab), 1)))
    for p, ns, cs in zip(pos, names, counts):
        if p >= 0:
            for c, v in zip(ns or (), cs or ()):
                cat[p, where[c]] = v
    return vocab, cat


@st.composite
def account_tables(draw: st.DrawFn) -> tuple[pa.Table, np.ndarray]:
    n = draw(st.integers(1, 12))
    ids = [f"a{i:02d}" for i in range(n)]
    hist = st.one_of(
        st.none(),
        st.just([]),
        st.lists(st.integers(0, 50), min_size=7 * HOURS, max_size=7 * HOURS),
        st.lists(st.integers(0, 50), min_size=1, max_size=30),  # not a whole week
    )
    names = [draw(st.one_of(st.none(), st.lists(st.sampled_from(CATEGORIES), max_size=4, unique=True).map(sorted))) for _ in ids]
    counts = [draw(st.one_of(st.none(), st.lists(st.integers(1, 99), max_size=5))) for _ in ids]
    table = pa.table(
        {
            "account_id": ids,
            "hour_hist": pa.array([draw(hist) for _ in ids], pa.list_(pa.int64())),
            "category_names": pa.array(names, pa.list_(pa.string())),
            "category_counts": pa.array(counts, pa.list_(pa.int64())),
            "n_interactions": pa.array([draw(st.one_of(st.none(), st.integers(0, 400))) for _ in ids], pa.int64()),
            "input_tokens": pa.array([draw(st.integers(0, 10**6)) for _ in ids], pa.int64()),
            "output_tokens": pa.array([draw(st.integers(0, 10**6)) for _ in ids], pa.int64()),
            "created_at": pa.array([draw(st.integers(0, 10**12)) for _ in ids], pa.int64()),
        }
    )
    # The run's accounts: some of the table's, in another order, and some it does not have.
    run_ids = draw(st.permutations(ids + ["zz-missing"]))
    return table, np.asarray(run_ids[: draw(st.integers(1, len(run_ids)))], dtype=object)


@settings(max_examples=60, deadline=None)
@given(account_tables())
def test_profiles_equal_the_row_by_row_definition(case: tuple[pa.Table, np.ndarray]) -> None:
    table, run_ids = case
    order = {a: i for i, a in enumerate(run_ids)}
    pos = [order.get(a, -1) for a in table.column("account_id").to_pylist()]
    n = len(run_ids)
    p = build_profiles(table, run_ids)

    hod, _dow = reference_week(table.column("hour_hist").to_pylist(), pos, n)
    vocab, cat = reference_categories(table.column("category_names").to_pylist(), table.column("category_counts").to_pylist(), pos, n)
    assert p.categories == vocab
    n_int = np.zeros(n)
    created = np.full(n, np.nan)
    for r, i in enumerate(pos):
        if i >= 0:
            v = table.column("n_interactions")[r].as_py()
            n_int[i] = 0.0 if v is None else v
            created[i] = table.column("created_at")[r].as_py()
    assert np.array_equal(p.n_interactions, n_int)
    assert np.array_equal(p.created, created, equal_nan=True)
    enough = n_int >= 20
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.linalg.norm(np.nan_to_num(hod), axis=1, keepdims=True)
        unit_hod = np.where(enough[:, None] & (norm > 0), np.nan_to_num(hod) / np.where(norm > 0, norm, 1), np.nan)
        cnorm = np.linalg.norm(cat, axis=1, keepdims=True)
        unit_cat = np.where(enough[:, None] & (cnorm > 0), cat / np.where(cnorm > 0, cnorm, 1), np.nan)
    assert np.allclose(p.hod, unit_hod, equal_nan=True, rtol=0, atol=1e-15)
    assert np.allclose(p.cat, unit_cat, equal_nan=True, rtol=0, atol=1e-15)


def test_every_field_is_aligned_with_the_run_ids() -> None:
    week = [0] * (7 * HOURS)
    week[9] = 30  # Monday 09:00 UTC
    table = pa.table(
        {
            "account_id": ["b", "a"],
            "hour_hist": pa.array([week, None], pa.list_(pa.int64())),
            "category_names": pa.array([["coding"], []], pa.list_(pa.string())),
            "category_counts": pa.array([[30], []], pa.list_(pa.int64())),
            "n_interactions": [30, 0],
        }
    )
    p = build_profiles(table, np.asarray(["a", "b", "c"], dtype=object))
    assert p.categories == ("coding",)
    assert np.isnan(p.hod[0]).all() and np.isnan(p.hod[2]).all()
    assert p.hod[1][9] == 1.0 and p.cat[1][0] == 1.0
    assert p.weekday_share[1] == 1.0
    assert list(p.n_interactions) == [0.0, 30.0, 0.0]
