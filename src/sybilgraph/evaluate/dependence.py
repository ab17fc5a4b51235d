"""How far the pair model's comparisons are from independent among unrelated accounts (pure + a reader).

The Fellegi-Sunter model (``attribution/fellegi_sunter.py``) adds the comparisons' weights as if
they were independent given the pair's status. Where two comparisons agree together among
*unrelated* pairs far more often than their separate rates predict, a pair that agrees on both
gets the shared part of the evidence twice (docs/evaluation.md, "Draws 21-100": a TLS fingerprint
and a template pool, 12 times the independent rate). This measures it on a bundle with truth:
random pairs, compared exactly as attribution compares them, minus the pairs of one true group
(the truth is used to diagnose, never by attribution).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sybilgraph.settings import Settings

__all__ = ["Dependence", "agreement_dependence", "measure_dependence"]


@dataclass(frozen=True)
class Dependence:
    """Two comparisons among unrelated random pairs: how many agree on both, against independence."""

    first: str
    second: str
    pairs: int  # unrelated random pairs compared
    both: int  # of them, pairs that agree (level > 0) on both comparisons
    expected: float  # pairs * P(first) * P(second)

    @property
    def ratio(self) -> float | None:
        """``both / expected``: 1 when independent; None when independence predicts no pair."""
        return self.both / self.expected if self.expected > 0 else None


def agreement_dependence(levels: np.ndarray, names: Sequence[str], unrelated: np.ndarray | None = None) -> list[Dependence]:
    """Every pair of comparisons (``names``, columns of ``levels``; level > 0 = agree) over the
    rows ``unrelated`` marks (all rows when None)."""
    rows = levels if unrelated is None else levels[np.asarray(unrelated, dtype=bool)]
    n = len(rows)
    agree = rows > 0
    out = []
    for i, j in itertools.combinations(range(len(names)), 2):
        p_i, p_j = (agree[:, i].mean(), agree[:, j].mean()) if n else (0.0, 0.0)
        out.append(Dependence(names[i], names[j], n, int((agree[:, i] & agree[:, j]).sum()), float(n * p_i * p_j)))
    return out


def measure_dependence(settings: Settings, truth: Path, n_pairs: int = 2_000_000, seed: int = 7) -> list[Dependence]:
    """``agreement_dependence`` of the identifier comparisons on the ingested home of ``settings``,
    whose bundle's ``truth`` table (Parquet) names each account's true operator or group."""
    from sybilgraph.attribution.comparisons import IDENTIFIER_COMPARISONS, COMPARISONS
    from sybilgraph.attribution.inputs import read_inputs
    from sybilgraph.attribution.pairs import build_pair_tables, random_pair_levels
    from sybilgraph.attribution.params import AttributionParams

    params = AttributionParams()
    inputs = read_inputs(settings)
    tables = build_pair_tables(inputs.links, inputs.accounts, memory_limit=settings.attribution.memory_limit,
                               hub_fraction=params.hub_fraction, hub_min_accounts=params.hub_min_accounts)
    columns = pq.read_table(truth, columns=["account_id", "operator"]).to_pydict()
    group = dict(zip(columns["account_id"], columns["operator"], strict=True))
    # An account of no group is a group of its own.
    ids = np.array([group.get(a) or f"\0{i}" for i, a in enumerate(tables.account_ids)], dtype=object)
    randoms = random_pair_levels(tables, n_pairs, seed)
    wanted = [i for i, c in enumerate(COMPARISONS) if c in IDENTIFIER_COMPARISONS]
    return agreement_dependence(randoms.levels[:, wanted], [COMPARISONS[i].name for i in wanted],
                                unrelated=ids[randoms.a] != ids[randoms.b])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sybilgraph.evaluate.dependence BUNDLE``: on the home ``SYBILGRAPH_HOME`` names,
    where BUNDLE was ingested (and attribution need not have run), one line per pair of comparisons."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sybilgraph.evaluate.dependence", description=main.__doc__)
    parser.add_argument("bundle", type=Path, help="the ingested bundle (its truth.parquet is read)")
    parser.add_argument("--pairs", type=int, default=2_000_000, help="random pairs to compare")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows = measure_dependence(Settings(), args.bundle / "truth.parquet", args.pairs, args.seed)
    print(f"{'comparisons':<30} {'unrelated pairs':>15} {'agree on both':>13} {'independent':>11} {'ratio':>7}")
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.1f}"
        print(f"{r.first + ' x ' + r.second:<30} {r.pairs:>15,} {r.both:>13,} {r.expected:>11.1f} {ratio:>7}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
