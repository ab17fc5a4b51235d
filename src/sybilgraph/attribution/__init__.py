"""Attribution: link accounts to the operators behind them, explain why, score campaigns."""

from typing import TYPE_CHECKING, Any

__all__ = ["run_attribution", "AttributionParams", "AttributionResult", "read_export", "write_export"]

if TYPE_CHECKING:
    from sybilgraph.attribution.export import read_export, write_export
    from sybilgraph.attribution.params import AttributionParams
    from sybilgraph.attribution.pipeline import AttributionResult, run_attribution

# Loaded when first asked for: importing one submodule (the case file reads attribution.scoring
# and attribution.evidence) then costs that submodule, not the whole pipeline (~0.4 s of start-up).
_LAZY = {
    "read_export": "sybilgraph.attribution.export",
    "write_export": "sybilgraph.attribution.export",
    "AttributionParams": "sybilgraph.attribution.params",
    "AttributionResult": "sybilgraph.attribution.pipeline",
    "run_attribution": "sybilgraph.attribution.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sybilgraph.attribution' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
