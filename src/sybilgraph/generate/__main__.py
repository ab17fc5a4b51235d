"""``python -m sybilgraph.generate OUT_DIR --scale S --seed N [--tradecraft MODE]``.

Why a module entry point: the seed bundle (seeds/README.md) must be regenerable from a
checkout before ``sybilgraph generate`` exists; both call generate_bundle with the same
arguments, so they write the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sybilgraph.generate.bundle import generate_bundle


def _progress(stage: str, fraction: float) -> None:
    print(f"\r{stage:<16} {fraction:6.1%}", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sybilgraph.generate", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="bundle directory to write")
    parser.add_argument("--scale", type=float, default=0.02, help="1.0 = the reported campaign (~47M interactions)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--tradecraft", default="classic", help="classic | random | families, e.g. careful:2,vm_farm (docs/generator.md)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    try:
        report = generate_bundle(
            args.out_dir,
            scale=args.scale,
            seed=args.seed,
            progress=None if args.quiet else _progress,
            tradecraft=args.tradecraft,
        )
    except ValueError as exc:
        parser.error(str(exc))
    counts = ", ".join(f"{k}={v:,}" for k, v in report.counts.items())
    print(f"wrote {report.out_dir} in {report.elapsed_seconds:.1f}s: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
