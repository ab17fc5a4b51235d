"""Synthetic distillation campaigns with ground truth (``sybilgraph generate``).

Why: attribution has to be measured and tested against campaigns whose true operators are
known. ``generate_bundle`` writes a bundle in the data-contract format (docs/data-contract.md)
holding a benign population with the confounders that break naive methods and several
distillation operators with different tradecraft, plus a ``truth`` table for evaluation.
See docs/generator.md for the population model and its figures.
"""

from sybilgraph.generate.bundle import GenerateArgumentError, GenerateReport, generate_bundle

__all__ = ["GenerateArgumentError", "GenerateReport", "generate_bundle"]
