"""Load: 1,000 mixed calls, 32 in flight, through one stdio session (the scenario is bench/load.py's).

Asserted: every answer is the right one, no call starts a CLI process it should not, never more CLI
processes at once than --max-concurrency, and the server's fds and RSS back to their level after warm-up.
Timings are printed by the bench, never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.hardening.helpers import make_sandbox
from tests.support import bench_module

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="reads /proc")

MAX_CONCURRENCY = 4


def bench() -> ModuleType:
    return bench_module("load")


async def test_a_thousand_mixed_calls_with_32_in_flight(tmp_path: Path, seeded_db: Path):
    load = bench()
    box = make_sandbox(tmp_path / "sandbox", seeded_db)
    report = await load.run(
        box.db, tmp_path, calls=1000, in_flight=32, max_concurrency=MAX_CONCURRENCY, slow=0.02, warm_up=50
    )
    print("\n" + report.table())

    assert report.wrong == [], "\n".join(report.wrong[:20])
    assert len(report.latencies) == 1000
    assert set(report.kinds) == {"list", "get", "invalid", "404", "proxy", "proxy 404"}
    assert report.cli_runs == report.expected_cli_runs, "a call started a CLI process it should not have, or none"

    assert report.peak_from_log <= MAX_CONCURRENCY
    assert report.peak_sampled <= MAX_CONCURRENCY
    assert report.extra["peak_during_run_from_log"] >= 2, "the run never overlapped CLI calls: nothing was measured"

    assert abs(report.fds_after - report.fds_before) <= 2, (report.fds_before, report.fds_after)
    assert abs(report.rss_after - report.rss_before) <= 10 * 1024 * 1024, (report.rss_before, report.rss_after)


def test_peak_overlap_counts_what_it_should():
    load = bench()
    entries = [
        {"start": 0.0, "end": 1.0},
        {"start": 0.5, "end": 1.5},
        {"start": 0.6, "end": 0.7},
        {"start": 1.0, "end": 2.0},
        {"start": 3.0},
    ]
    assert load.peak_overlap(entries) == 3
    assert load.peak_overlap([]) == 0
