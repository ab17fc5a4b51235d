"""Small synthetic worlds for the pure attribution tests: links and account features built in
Python, so each test states exactly who shares what."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01


@dataclass
class World:
    uses: list[tuple[str, str, str, int]] = field(default_factory=list)  # account, kind, value, count
    accounts: dict[str, dict[str, object]] = field(default_factory=dict)

    def account(self, account_id: str, created_day: float = 0.0, hours: str = "day", n: int = 100,
                api: float = 0.0, cats: dict[str, int] | None = None) -> None:
        week = np.zeros((7, 24))
        if hours == "flat":
            week[:] = 1
        elif hours == "day":
            week[:5, 8:18] = 1
        elif hours == "night":
            week[:, 0:6] = 1
        week = week / week.sum() * n
        cats = cats or {"chat": n}
        names = sorted(cats)
        self.accounts[account_id] = {
            "account_id": account_id,
            "created_at": int(T0 + created_day * DAY_MS),
            "n_interactions": n,
            "input_tokens": 100 * n,
            "output_tokens": 300 * n,
            "first_interaction": int(T0 + (created_day + 1) * DAY_MS),
            "last_interaction": int(T0 + (created_day + 60) * DAY_MS),
            "hour_hist": [int(round(x)) for x in week.reshape(-1)],
            "category_names": names,
            "category_counts": [cats[c] for c in names],
            "n_api_key_requests": int(api * n),
        }

    def use(self, account_id: str, kind: str, value: str, count: int = 1) -> None:
        self.uses.append((account_id, kind, value, count))

    def links(self) -> pa.Table:
        n = Counter((k, v) for a, k, v, _ in {(a, k, v, 0) for a, k, v, _ in self.uses})
        rows = {}
        for a, k, v, c in self.uses:
            rows[(a, k, v)] = rows.get((a, k, v), 0) + c
        keys = sorted(rows)
        return pa.table({
            "account_id": [a for a, _, _ in keys],
            "kind": [k for _, k, _ in keys],
            "value": [v for _, _, v in keys],
            "n_accounts": pa.array([n[(k, v)] for _, k, v in keys], pa.int64()),
            "count": pa.array([rows[key] for key in keys], pa.int64()),
        }).filter(pa.compute.greater_equal(pa.array([n[(k, v)] for _, k, v in keys]), 2))

    def account_table(self) -> pa.Table:
        rows = [self.accounts[a] for a in sorted(self.accounts)]
        return pa.Table.from_pylist(rows)


def careful_operator(w: World, n: int = 30, seed: int = 3, popular: int = 0) -> list[str]:
    """A careful operator: its own client (``custom-sdk``) and a private prompt pool (6 of 60
    templates each), its own home line each, nothing else shared; each account also sends
    ``popular`` of the crowd's 40 popular templates. Returns its account ids."""
    rng = np.random.default_rng(seed)
    careful = [f"c{i:02d}" for i in range(n)]
    for i, a in enumerate(careful):
        w.account(a, created_day=-200 - 3 * i, hours="day", api=1.0, cats={"agentic": 90, "chat": 10})
        w.use(a, "tls", "custom-sdk")
        w.use(a, "ip", f"own-home-{i}")  # nobody else's
        for t in rng.choice(60, 6, replace=False):
            w.use(a, "template", f"private{t}", 20)
        if popular:
            for t in rng.choice(40, popular, replace=False):
                w.use(a, "template", f"pop{t}", 2)
    return careful
