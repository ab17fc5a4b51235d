"""Cypher statements live in ``cypher/<area>/<verb>_<noun>.cypher`` and are loaded by name.

Names are ``"<area>/<verb>_<noun>"``. Statements are parameterised; nothing is ever spliced
into their text, so the file you read is the statement that runs.

``cypher/`` ships inside the package (``sybilgraph._cypher``, see setup.py) and is found with
``importlib.resources``, so an installed wheel needs no checkout and no setting.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sybilgraph.errors import ConfigError

__all__ = ["CYPHER_DIR", "load", "names", "statements"]


def _statements_dir() -> Path:
    try:
        root = resources.files("sybilgraph._cypher")
    except ModuleNotFoundError:  # an editable install made before cypher/ became package data
        raise ConfigError(
            "the Cypher statements are not installed with sybilgraph; reinstall it "
            "(in a checkout: bash scripts/install.sh)"
        ) from None
    # Installed packages are directories on disk (wheels are unpacked; editable installs map the
    # checkout's cypher/), so the Traversable is a path.
    return Path(os.fspath(root))  # type: ignore[arg-type]


CYPHER_DIR = _statements_dir()


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
        p.relative_to(CYPHER_DIR).with_suffix("").as_posix() for p in root.rglob("*.cypher")
    )


def statements(name: str) -> list[str]:
    """A file holding several statements separated by ``;`` lines (schema files), split."""
    return [s.strip() for s in load(name).split(";") if s.strip() and not _only_comments(s)]


def _only_comments(text: str) -> bool:
    return all(not ln.strip() or ln.strip().startswith("//") for ln in text.splitlines())


def path_of(name: str) -> Path:
    return CYPHER_DIR / f"{name}.cypher"
