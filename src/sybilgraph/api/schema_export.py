"""Write (or check) the committed SDL, ``schema.graphql`` at the repository root.

Clients and reviewers read the schema from that file; a test fails while it differs from what
the code builds. Regenerate with ``python -m sybilgraph.api.schema_export``; ``--check`` exits 1
(and writes nothing) when the file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["SCHEMA_FILE", "main", "sdl"]

# A development tool: the file of the checkout this module runs from (src/sybilgraph/api/ -> root).
SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schema.graphql"


def sdl() -> str:
    from sybilgraph.api.schema import build_schema

    return build_schema().as_str().rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sybilgraph.api.schema_export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs; write nothing")
    parser.add_argument("--out", type=Path, default=SCHEMA_FILE)
    args = parser.parse_args(argv)
    text = sdl()
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"{args.out} is stale: run python -m sybilgraph.api.schema_export", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
