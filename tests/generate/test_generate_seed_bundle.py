"""seeds/bundle is what its documented command writes today.

Compared by content (tables, labels text, manifest), not bytes: Parquet files name the Arrow
version that wrote them, and a library upgrade alone should not fail this test. When the
generator changes on purpose, regenerate the seed bundle with the command in seeds/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from sybilgraph.generate import generate_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_BUNDLE = REPO_ROOT / "seeds" / "bundle"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SEED_BUNDLE.is_dir():
        pytest.fail(f"{SEED_BUNDLE} is missing; see seeds/README.md")
    return generate_bundle(tmp_path_factory.mktemp("seed") / "bundle", scale=0.01, seed=7).out_dir


def test_readme_names_the_command() -> None:
    text = (REPO_ROOT / "seeds" / "README.md").read_text()
    assert "sybilgraph generate seeds/bundle --scale 0.01 --seed 7" in text
    assert "python -m sybilgraph.generate seeds/bundle --scale 0.01 --seed 7" in text


def test_same_files(fresh: Path) -> None:
    def files(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    assert files(SEED_BUNDLE) == files(fresh)


@pytest.mark.parametrize("name", ["accounts", "payment_methods", "sessions", "truth"])
def test_same_tables(fresh: Path, name: str) -> None:
    assert pq.read_table(SEED_BUNDLE / f"{name}.parquet").equals(pq.read_table(fresh / f"{name}.parquet"))


def test_same_interactions(fresh: Path) -> None:
    for part in sorted((fresh / "interactions").iterdir()):
        assert pq.read_table(SEED_BUNDLE / "interactions" / part.name).equals(pq.read_table(part)), part.name
    assert ds.dataset(SEED_BUNDLE / "interactions").count_rows() == ds.dataset(fresh / "interactions").count_rows()


def test_same_labels_and_manifest(fresh: Path) -> None:
    assert (SEED_BUNDLE / "labels.csv").read_text() == (fresh / "labels.csv").read_text()
    old = json.loads((SEED_BUNDLE / "generator.json").read_text())
    new = json.loads((fresh / "generator.json").read_text())
    old.pop("sybilgraph_version")
    new.pop("sybilgraph_version")
    assert old == new
