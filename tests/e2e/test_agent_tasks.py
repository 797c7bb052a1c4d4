"""The agent-task suite: seven realistic tasks through a real MCP client over stdio, each outcome checked.

The tasks live in bench/agent_tasks.py, which prints the same table with the calls made and the
characters read; here every outcome must hold, in both protocol eras and under a small result cap.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import anyio
import pytest

from tests.support import bench_module


def tasks_module() -> ModuleType:
    return bench_module("agent_tasks")


@pytest.mark.parametrize(
    ("legacy", "cap"), [(False, 60_000), (True, 4_000)], ids=["2026-07-28", "2025-11-25-small-cap"]
)
def test_every_task_succeeds_and_costs_what_the_table_says(tmp_path: Path, legacy: bool, cap: int):
    tasks = tasks_module()
    env = tasks.sandbox_env(tmp_path)
    outcomes = anyio.run(lambda: tasks.run_tasks(env, max_result_chars=cap, legacy=legacy))
    table = tasks.table(outcomes)
    assert [o.task for o in outcomes] == [title for title, _ in tasks.TASKS]
    assert all(o.ok for o in outcomes), table
    for outcome in outcomes:
        assert outcome.calls > 0 and outcome.chars > 0, table
    mistakes = outcomes[-1]
    assert len(mistakes.errors) == 5, mistakes.errors
    paging = next(o for o in outcomes if o.task == "read every contact with a tag")
    assert paging.chars < 25_000, table
