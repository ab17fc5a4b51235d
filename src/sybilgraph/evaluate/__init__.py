"""Evaluation: score an attribution export against the truth, and run the peers' baselines.

* :func:`evaluate` (:mod:`.metrics`): flagging precision/recall, per-campaign recall, ARI and
  pairwise precision/recall of operator assignment, label coverage.
* :func:`run_baselines` (:mod:`.baselines`): connected-component fraud rings and EvilCohort
  (Stringhini et al., USENIX Security 2015) on account-identifier pairs, in export format.
* :func:`~.splink_baseline.run_splink` (:mod:`.splink_baseline`): Splink 4 (Fellegi-Sunter with
  EM, DuckDB) on one record per account; optional (``pip install 'sybilgraph[eval]'``).
* Renderers (:mod:`.report`): rich tables, JSON, Markdown.

Everything here is pure Python/numpy/pandas/DuckDB (Splink runs on DuckDB); no graph database,
except :mod:`.command` and :mod:`.matrix`, which drive a run.
"""

from sybilgraph.evaluate.baselines import (
    PAIR_SCHEMA,
    BaselineRun,
    attach_labels,
    evilcohort,
    fraud_rings,
    pairs_from_bundle,
    run_baselines,
)
from sybilgraph.evaluate.community import louvain, modularity
from sybilgraph.evaluate.metrics import (
    EvaluationResult,
    FlagMetrics,
    LabelCoverage,
    OperatorRecall,
    PairCounts,
    PairwiseMetrics,
    adjusted_rand_index,
    evaluate,
    pair_counts,
)
from sybilgraph.evaluate.report import (
    print_report,
    render_json,
    render_markdown,
    render_rich,
    render_rich_table,
)

__all__ = [
    # metrics
    "evaluate",
    "EvaluationResult",
    "FlagMetrics",
    "OperatorRecall",
    "PairwiseMetrics",
    "LabelCoverage",
    "PairCounts",
    "pair_counts",
    "adjusted_rand_index",
    # baselines
    "run_baselines",
    "BaselineRun",
    "fraud_rings",
    "evilcohort",
    "attach_labels",
    "pairs_from_bundle",
    "PAIR_SCHEMA",
    "louvain",
    "modularity",
    # report
    "render_rich_table",
    "render_rich",
    "print_report",
    "render_json",
    "render_markdown",
]
