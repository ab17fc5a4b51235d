"""Every Cypher file is used, every statement name used exists, and none splices values."""

from __future__ import annotations

import re
from pathlib import Path

from sybilgraph import cypher
from sybilgraph.identifiers import KINDS

SRC = Path(__file__).resolve().parents[1] / "src" / "sybilgraph"
AREAS = {p.name for p in cypher.CYPHER_DIR.iterdir() if p.is_dir() and not p.name.startswith("__")}
NAME = re.compile(r"""["']((?:%s)/[a-z0-9_]+)["']""" % "|".join(sorted(AREAS)))


def _used_names() -> set[str]:
    used = {n for p in SRC.rglob("*.py") for n in NAME.findall(p.read_text())}
    used |= {name for k in KINDS.values() for name in k.statements}
    used |= set(cypher.names("schema"))  # applied as a whole by Database.apply_schema
    return used


def test_every_name_used_exists() -> None:
    missing = sorted(n for n in _used_names() if not cypher.path_of(n).is_file())
    assert missing == []


def test_every_file_is_used() -> None:
    used = _used_names()
    # Files read by other means: Bloom search phrases are served from the perspective file,
    # and are checked against it by the Bloom tests.
    unused = sorted(n for n in cypher.names() if n not in used and not n.startswith("bloom/"))
    assert unused == []


def test_statements_take_parameters_not_spliced_values() -> None:
    for name in cypher.names():
        text = cypher.load(name)
        assert "{0}" not in text and "%s" not in text and "{}" not in text.replace("MAP {}", ""), name
