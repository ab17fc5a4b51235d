"""Why two accounts are, or are not, one operator: a run's evidence model, comparison by comparison.

Splink's *waterfall*: the prior (two random accounts share an operator), then each comparison's
level for this pair, its ``m`` and ``u`` as the run fitted them and the bits it adds, with the
running match weight and probability. The pair is compared exactly as the run compared pairs:
the same value frequencies (ingest's state) and the run's template pools.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.attribution.fellegi_sunter import FSModel, WaterfallRow
from sybilgraph.attribution.inputs import LINK_SCHEMA, read_inputs
from sybilgraph.attribution.pairs import build_pair_tables, pair_levels
from sybilgraph.attribution.pipeline import run_dir
from sybilgraph.db.session import Database
from sybilgraph.errors import SybilgraphError

__all__ = ["explain_pair"]


def explain_pair(db: Database, account_a: str, account_b: str, run_id: str | None = None) -> tuple[list[WaterfallRow], str]:
    if account_a == account_b:
        raise SybilgraphError("explain compares two different accounts")
    rows = db.read("attribution/read_run_model", run_id=run_id)
    if not rows or not rows[0]["model_json"]:
        which = f"run {run_id}" if run_id else "the current run"
        raise SybilgraphError(f"{which} has no stored evidence model (attribute first with 'sybilgraph attribute')")
    run_id = rows[0]["run_id"]
    model = FSModel.from_json(rows[0]["model_json"])
    inputs = read_inputs(db.settings)
    known = set(inputs.accounts.column("account_id").to_pylist())
    for a in (account_a, account_b):
        if a not in known:
            raise SybilgraphError(f"unknown account {a!r}")
    pair = pa.array([account_a, account_b], pa.string())
    links = inputs.links.filter(pc.is_in(inputs.links.column("account_id"), value_set=pair))
    links = links.filter(pc.not_equal(links.column("kind"), "template"))
    links = pa.concat_tables([links, _pool_links(run_dir(db.settings, run_id) / "pools.parquet", pair)])
    params = db.settings.attribution.params()
    t = build_pair_tables(links, inputs.accounts, hub_fraction=params.hub_fraction, hub_min_accounts=params.hub_min_accounts)
    try:
        index = {str(x): i for i, x in enumerate(t.account_ids)}
        a, b = sorted((index[account_a], index[account_b]))
        t.con.register("_one", pa.table({"a": pa.array([a], pa.int32()), "b": pa.array([b], pa.int32())}))
        t.con.execute("CREATE OR REPLACE TEMP TABLE one_pair AS SELECT * FROM _one")
        levels = pair_levels(t, "one_pair").levels[0]
    finally:
        t.con.close()
    waterfall = model.waterfall(np.asarray(levels))
    verdict = "one operator" if waterfall[-1].probability >= 0.5 else "not linked"
    return waterfall, f"{account_a} ~ {account_b}, run {run_id}: match probability {waterfall[-1].probability:.4f} ({verdict})"


def _pool_links(path: object, pair: pa.Array) -> pa.Table:
    """The pair's template pools as links, with how many accounts of the run used each pool."""
    from pathlib import Path

    p = Path(str(path))
    if not p.is_file():
        return LINK_SCHEMA.empty_table()
    pools = pq.read_table(p)
    counts = pools.group_by(["kind", "pool"]).aggregate([("account_id", "count")])
    mine = pools.filter(pc.is_in(pools.column("account_id"), value_set=pair))
    joined = mine.join(counts, keys=["kind", "pool"])
    return pa.table(
        {
            "account_id": joined.column("account_id"),
            "kind": joined.column("kind"),
            "value": joined.column("pool"),
            "n_accounts": joined.column("account_id_count").cast(pa.int64()),
            "count": pa.array([1] * joined.num_rows, pa.int64()),
        },
        schema=LINK_SCHEMA,
    )
