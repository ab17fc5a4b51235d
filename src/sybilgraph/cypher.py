"""Cypher statements live in ``cypher/<area>/<verb>_<noun>.cypher`` and are loaded by name.

Names are ``"<area>/<verb>_<noun>"``. Statements are parameterised; nothing is ever spliced
into their text, so the file you read is the statement that runs.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sybilgraph.settings import REPO_ROOT

__all__ = ["CYPHER_DIR", "load", "names", "statements"]

# A checkout keeps cypher/ beside src/; an installed package (the Docker image) names it.
CYPHER_DIR = Path(os.environ.get("SYBILGRAPH_CYPHER_DIR", REPO_ROOT / "cypher"))


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of ``cypher/<name>.cypher``; KeyError names the missing file."""
    path = CYPHER_DIR / f"{name}.cypher"
    if not path.is_file():
        raise KeyError(f"no Cypher statement named '{name}' (expected {path})")
    return path.read_text(encoding="utf-8").strip()


def names(area: str | None = None) -> list[str]:
    """Every statement name, optionally only those of one area, sorted."""
    root = CYPHER_DIR / area if area else CYPHER_DIR
    return sorted(
        str(p.relative_to(CYPHER_DIR).with_suffix("")) for p in root.rglob("*.cypher")
    )


def statements(name: str) -> list[str]:
    """A file holding several statements separated by ``;`` lines (schema files), split."""
    return [s.strip() for s in load(name).split(";") if s.strip() and not _only_comments(s)]


def _only_comments(text: str) -> bool:
    return all(not ln.strip() or ln.strip().startswith("//") for ln in text.splitlines())


def path_of(name: str) -> Path:
    return CYPHER_DIR / f"{name}.cypher"
