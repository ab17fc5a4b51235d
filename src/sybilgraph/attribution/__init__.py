"""Attribution: link accounts to the operators behind them, explain why, score campaigns."""

from sybilgraph.attribution.export import read_export, write_export
from sybilgraph.attribution.params import AttributionParams
from sybilgraph.attribution.pipeline import AttributionResult, run_attribution

__all__ = ["run_attribution", "AttributionParams", "AttributionResult", "read_export", "write_export"]
