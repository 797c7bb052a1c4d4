"""bench/run.py --quick runs to the end and prints every row (its structure only, never its timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("P1 ", "P2 ", "P3 ", "P3w ", "P4 ", "P5 ", "P6 ", "P7 ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the stand-ins are /bin/sh scripts; RSS from /proc")
def test_quick_bench_prints_every_row() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [cell.strip() for cell in lines[1].split(" | ")][:5] == ["row", "figure", "goal", "ratio", "ok"]
    for row in ROWS:
        matching = [line for line in lines if line.startswith(row)]
        assert len(matching) == 1, (row, done.stdout)
        cells = [cell.strip() for cell in matching[0].split(" | ")]
        assert len(cells) == 7 and cells[4] in ("yes", "NO") and all(cells[:3] + cells[5:]), matching[0]
