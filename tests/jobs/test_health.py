"""The scheduler's health file (``sybilgraph scheduler --check``), without a database."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sybilgraph.jobs.health import HealthBeacon
from tests.together import run_together


def test_beacons_sharing_one_file_never_rename_each_others_writes_away(tmp_path: Path) -> None:
    # Schedulers that share a home on one host share the health file: each write must stand alone.
    path = tmp_path / "run" / "scheduler-host.json"
    path.parent.mkdir()
    beacons = [HealthBeacon(path, lambda i=i: {"state": f"beacon-{i}"}) for i in range(4)]
    errors = run_together([lambda b=b: [b._write() for _ in range(300)] for b in beacons], timeout_s=60)
    assert not errors, errors
    report = json.loads(path.read_text())
    assert report["pid"] == os.getpid() and report["state"].startswith("beacon-")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left behind


def test_a_stopped_beacon_removes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "run" / "scheduler-host.json"
    beacon = HealthBeacon(path, lambda: {"state": "idle"}, interval_s=60)
    beacon.start()
    assert json.loads(path.read_text())["state"] == "idle"
    beacon.stop()
    assert not path.exists()


def test_a_stopped_beacon_leaves_the_file_another_beacon_wrote_since(tmp_path: Path) -> None:
    # Two schedulers on one host: the one that stops must not report the other as gone.
    path = tmp_path / "run" / "scheduler-host.json"
    first = HealthBeacon(path, lambda: {"state": "first"}, interval_s=60)
    second = HealthBeacon(path, lambda: {"state": "second"}, interval_s=60)
    first.start()
    second.start()
    first.stop()
    assert json.loads(path.read_text())["state"] == "second"
    second.stop()
    assert not path.exists()
