"""Same (scale, seed) -> byte-identical files; the API, the module entry point and its guards."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from sybilgraph.errors import SybilgraphError
from sybilgraph.generate import GenerateArgumentError, GenerateReport, generate_bundle
from sybilgraph.generate.__main__ import main

SMALL = 0.01


def digest(bundle: Path) -> dict[str, str]:
    return {
        str(p.relative_to(bundle)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(bundle.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[tuple[str, float]]]:
    """The same bundle written twice: once through the module entry point, once via the API."""
    root = tmp_path_factory.mktemp("twin")
    assert main([str(root / "cli"), "--scale", str(SMALL), "--seed", "3", "--quiet"]) == 0
    calls: list[tuple[str, float]] = []
    generate_bundle(root / "api", scale=SMALL, seed=3, progress=lambda s, f: calls.append((s, f)))
    return root / "cli", root / "api", calls


def test_same_seed_same_bytes(twin: tuple[Path, Path, list[tuple[str, float]]]) -> None:
    cli, api, _ = twin
    a, b = digest(cli), digest(api)
    assert len(a) >= 8
    assert a == b


def test_different_seed_differs(twin: tuple[Path, Path, list[tuple[str, float]]], tmp_path: Path) -> None:
    cli, _, _ = twin
    generate_bundle(tmp_path / "other", scale=SMALL, seed=4)
    a, b = digest(cli), digest(tmp_path / "other")
    assert a.keys() == b.keys()
    for name in ("accounts.parquet", "sessions.parquet", "truth.parquet", "interactions/part-00000.parquet"):
        assert a[name] != b[name], name


def test_progress_reports_every_stage_and_finishes(twin: tuple[Path, Path, list[tuple[str, float]]]) -> None:
    _, _, calls = twin
    stages = list(dict.fromkeys(s for s, _ in calls))
    assert stages == [
        "population",
        "accounts",
        "payment_methods",
        "sessions",
        "interactions",
        "labels",
        "truth",
        "done",
    ]
    inter = [f for s, f in calls if s == "interactions"]
    assert inter == sorted(inter) and inter[-1] == 1.0
    assert calls[-1] == ("done", 1.0)


def test_report_is_frozen_and_matches_manifest(
    twin: tuple[Path, Path, list[tuple[str, float]]], tmp_path: Path
) -> None:
    report = generate_bundle(tmp_path / "r", scale=SMALL, seed=3)
    assert isinstance(report, GenerateReport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.seed = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        report.counts["accounts"] = 0  # type: ignore[index]
    manifest = json.loads((report.out_dir / "generator.json").read_text())
    assert manifest["counts"] == dict(report.counts)
    assert manifest["scale"] == SMALL and manifest["seed"] == 3
    assert report.n_operators == len(manifest["operators"]) >= 5
    assert report.n_labelled_operators >= 3
    assert report.n_multi_account_operators > 0
    assert report.interaction_parts == len(list((report.out_dir / "interactions").iterdir()))
    assert report.counts["interactions"] == round(18_000_000 * SMALL) + round(28_800_000 * SMALL)
    assert report.elapsed_seconds > 0


def test_regenerating_replaces_stale_parts_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "b"
    (out / "interactions").mkdir(parents=True)
    (out / "interactions" / "part-00042.parquet").write_bytes(b"stale")
    (out / "NOTES.txt").write_text("mine")
    report = generate_bundle(out, scale=SMALL, seed=1)
    parts = sorted(p.name for p in (out / "interactions").iterdir())
    assert parts == [f"part-{i:05d}.parquet" for i in range(report.interaction_parts)]
    assert (out / "NOTES.txt").read_text() == "mine"


@pytest.mark.parametrize("scale", [0, -0.5, float("nan"), float("inf"), 11.0])
def test_bad_scale_rejected(tmp_path: Path, scale: float) -> None:
    with pytest.raises(ValueError, match="scale") as exc:
        generate_bundle(tmp_path / "x", scale=scale)
    assert isinstance(exc.value, GenerateArgumentError)
    assert isinstance(exc.value, SybilgraphError)  # the CLI prints the message, no traceback
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("seed", [-1, 2**32, True, 1.5])
def test_bad_seed_rejected(tmp_path: Path, seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_bundle(tmp_path / "x", seed=seed)  # type: ignore[arg-type]


def test_entry_point_rejects_bad_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "x"), "--scale", "0"])
    assert exc.value.code == 2
    assert "scale" in capsys.readouterr().err
