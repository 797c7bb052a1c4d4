"""A signal while a CLI is being started, or while it has strays out, leaves nothing running.

The server's signal handler calls `Runner.kill_all` and exits at once. A CLI process that exists but is
not yet registered (spawned, the event loop not yet back) would survive that and finish its write after
the server is gone. These tests send the signal at every moment around the spawn: in a small program
that calls `kill_all` after k event-loop turns and then exits as the server does, and through real stdio
against `mautic-mcp --membrane-bin=<fake>` at several delays after the call. The fake CLI, if it lives,
writes a file a moment later: "the write went through".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.helpers import (
    HostileSession,
    hostile_log,
    processes_with_env,
    wait_all_gone,
    write_hostile_cli,
)
from tests.support import alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc checks, setsid strays")

CONNECTION = "conn-signals-1"
ANSWERS = {
    "connection list": {"items": [{"id": CONNECTION, "name": "Mautic", "integrationKey": "mautic", "state": "READY"}]},
    "action list": {
        "items": [
            {
                "id": "act-create",
                "key": "create-contact",
                "name": "Create contact",
                "inputSchema": {"type": "object", "properties": {"email": {"type": "string"}}},
            }
        ]
    },
    "action run": {"output": {"id": 1}},
}
WRITE_AFTER_SECONDS = 0.6

KILL_ALL_AFTER_TURNS = textwrap.dedent(
    """
    import os, sys
    import anyio, anyio.lowlevel
    from mautic_mcp.membrane.runner import Runner

    async def main(turns: int, program: str) -> None:
        runner = Runner([program], timeout=30, max_concurrency=1)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run, ["action", "run", "act-create"])
            for _ in range(turns):
                await anyio.lowlevel.checkpoint()
            runner.kill_all()  # what the server's signal handler does, then it exits at once
            os._exit(0)

    anyio.run(main, int(sys.argv[1]), sys.argv[2])
    """
)


def scenario(folder: Path, **behaviours: Any) -> dict[str, str]:
    """The environment of a fake CLI whose `action run` does `behaviours`, logging to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.json").write_text(json.dumps({"answers": ANSWERS, **behaviours}))
    return {"HOSTILE_SCENARIO": str(folder / "scenario.json"), "HOSTILE_LOG": str(folder / "cli.jsonl")}


def nothing_survived(folders: list[Path]) -> None:
    """No fake CLI (or its stray) runs, none logged by a folder, and none wrote its file after its server died."""
    time.sleep(WRITE_AFTER_SECONDS + 0.4)
    for folder in folders:
        entries = hostile_log(folder / "cli.jsonl")
        wait_all_gone(entries, 3.0)
        assert processes_with_env("HOSTILE_LOG", str(folder / "cli.jsonl")) == [], folder
        assert not (folder / "written").exists(), f"a CLI outlived its server and finished its write ({folder})"


def test_kill_all_at_any_turn_of_the_loop_around_the_spawn_ends_the_cli(tmp_path: Path):
    program = write_hostile_cli(tmp_path / "bin")
    folders = [tmp_path / f"turns-{turns}" for turns in range(12)]
    children = []
    for turns, folder in enumerate(folders):
        env = {
            **os.environ,
            **scenario(folder, **{"action run": {"sleep": WRITE_AFTER_SECONDS, "touch": str(folder / "written")}}),
        }
        command = [sys.executable, "-c", KILL_ALL_AFTER_TURNS, str(turns), str(program)]
        children.append(subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL))
    assert [child.wait(timeout=30) for child in children] == [0] * len(children)
    nothing_survived(folders)


def sigterm_during_a_call(program: Path, folder: Path, delay: float | None) -> None:
    """One server: initialized, tools listed, a write sent, and SIGTERM `delay` seconds after it
    (None: once the CLI has started)."""
    session = HostileSession(program, folder, ANSWERS, "--intent=contacts")
    try:
        scenario(folder)
        session.initialize()
        assert "create_contact" in session.tool_names()
        scenario(folder, **{"action run": {"sleep": WRITE_AFTER_SECONDS, "touch": str(folder / "written")}})
        session.send(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {"name": "create_contact", "arguments": {"email": "sig@example.org"}},
            }
        )
        if delay is None:
            deadline = time.monotonic() + 15
            while not any(entry["command"] == "action run" for entry in hostile_log(folder / "cli.jsonl")):
                assert time.monotonic() < deadline, "the CLI never started"
                time.sleep(0.005)
        else:
            time.sleep(delay)
        os.kill(session.pid, signal.SIGTERM)
        assert session.process.wait(timeout=15) == 128 + signal.SIGTERM
    finally:
        session.close()


def test_sigterm_at_any_moment_of_a_call_over_stdio_leaves_no_cli(tmp_path: Path):
    program = write_hostile_cli(tmp_path / "bin")
    delays: list[float | None] = [0.0, 0.0005, 0.002, 0.01, None]
    folders = [tmp_path / f"delay-{n}" for n in range(len(delays))]
    with ThreadPoolExecutor(max_workers=len(delays)) as pool:
        list(pool.map(sigterm_during_a_call, [program] * len(delays), folders, delays))
    nothing_survived(folders)


def test_sigterm_ends_the_strays_of_a_call_still_running(tmp_path: Path):
    """A CLI still running whose child left its group (setsid): the signal ends both, not just the group."""
    program = write_hostile_cli(tmp_path / "bin")
    folder = tmp_path / "stray"
    session = HostileSession(program, folder, ANSWERS, "--intent=contacts")
    try:
        scenario(folder)
        session.initialize()
        assert "create_contact" in session.tool_names()
        scenario(folder, **{"action run": {"stray": "daemon", "sleep": 30}})
        session.send(
            {
                "jsonrpc": "2.0",
                "id": 8,
                "method": "tools/call",
                "params": {"name": "create_contact", "arguments": {"email": "stray@example.org"}},
            }
        )
        deadline = time.monotonic() + 15
        while not [e for e in hostile_log(folder / "cli.jsonl") if "grandchild" in e]:
            assert time.monotonic() < deadline, "the CLI never started its stray"
            time.sleep(0.02)
        stray = next(e["grandchild"] for e in hostile_log(folder / "cli.jsonl") if "grandchild" in e)
        assert alive(stray)
        os.kill(session.pid, signal.SIGTERM)
        assert session.process.wait(timeout=15) == 128 + signal.SIGTERM
    finally:
        session.close()
    wait_all_gone(hostile_log(folder / "cli.jsonl"), 3.0)
    assert not alive(stray), "the stray of a running call outlived the server"
