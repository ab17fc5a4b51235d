"""``python -m sybilgraph``: the same command as ``sybilgraph``."""

from sybilgraph.cli import main

main()
