"""Memory sampling: peaks cut from a series, windows rebuilt from timings, the live sampler."""

from __future__ import annotations

import os
import time

import pytest

from sybilgraph.bench.rss import (
    RssSampler,
    Sample,
    peak_between,
    peak_sum_between,
    read_rss,
    windows_from_timings,
)

SERIES = [
    Sample(0.0, {"python": 100, "jvm": 1_000}),
    Sample(1.0, {"python": 300, "jvm": 900}),
    Sample(2.0, {"python": 200, "jvm": 1_200}),
    Sample(3.0, {"python": 150}),  # the JVM was gone at this sample
]


def test_peak_is_the_largest_sample_inside_the_window() -> None:
    assert peak_between(SERIES, "python", 0.0, 3.0) == 300
    assert peak_between(SERIES, "python", 1.5, 3.0) == 200
    assert peak_between(SERIES, "jvm", 2.5, 3.0) is None
    assert peak_between(SERIES, "api", 0.0, 3.0) is None


def test_peak_sum_is_simultaneous_not_the_sum_of_peaks() -> None:
    # Separate peaks would add to 300 + 1,200; at no sample were both that high.
    assert peak_sum_between(SERIES, ("python", "jvm"), 0.0, 3.0) == 1_400
    assert peak_sum_between(SERIES, ("python", "jvm"), 2.5, 3.0) is None


def test_windows_follow_each_other_and_steps_start_inside_their_phase() -> None:
    w = windows_from_timings(10.0, {"read": 1.0, "communities": 3.0, "communities.projection": 2.0,
                                    "communities.leiden": 0.5, "write": 1.0})
    assert w["read"] == (10.0, 11.0)
    assert w["communities"] == (11.0, 14.0)
    assert w["communities.projection"] == (11.0, 13.0)
    assert w["communities.leiden"] == (13.0, 13.5)
    assert w["write"] == (14.0, 15.0)


def test_rss_of_this_process_is_read_and_a_missing_process_has_none() -> None:
    rss = read_rss(os.getpid())
    assert rss is not None and rss > 1024 * 1024
    assert read_rss(2**22 + 12_345) is None  # above the default pid_max


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_sampler_records_watched_processes_until_stopped() -> None:
    with RssSampler(interval_s=0.02) as sampler:
        sampler.watch("again", os.getpid())
        time.sleep(0.15)
        sampler.watch("again", None)
        time.sleep(0.05)
    samples = sampler.snapshot()
    assert len(samples) >= 3
    assert all(s.rss.get("python", 0) > 0 for s in samples)
    assert any("again" in s.rss for s in samples) and "again" not in samples[-1].rss
    count = len(samples)
    time.sleep(0.05)
    assert len(sampler.snapshot()) == count  # stopped means stopped
