"""No process left behind, over real stdio: 50 timeouts, 50 MCP cancellations, 50 calls cut off by a
client that goes away, and a server stopped by a signal.

The sandbox's `hang` fault starts a grandchild in the CLI's process group and sleeps forever, and logs
pid, pgid and grandchild; after each batch, /proc must show none of them, and no member of any logged group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from tests.hardening.helpers import (
    RawSession,
    make_sandbox,
    server_pids,
    stdio_params,
    text,
    wait_all_gone,
)
from tests.support import Sandbox, alive

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and /proc")

REPETITIONS = 50
AT_ONCE = 10
HANG = {"fault": "hang", "fault_on": "action run"}


@pytest.fixture
def box(tmp_path: Path, seeded_db: Path) -> Sandbox:
    return make_sandbox(tmp_path / "sandbox", seeded_db)


def hung(box: Sandbox) -> list[dict[str, Any]]:
    return [entry for entry in box.invocations() if "grandchild" in entry]


async def until_hung(box: Sandbox, count: int, seconds: float = 30) -> list[dict[str, Any]]:
    with anyio.fail_after(seconds):
        while len(entries := hung(box)) < count:
            await anyio.sleep(0.02)
    return entries


async def all_gone(entries: list[dict[str, Any]], seconds: float = 10.0) -> None:
    await anyio.to_thread.run_sync(wait_all_gone, entries, seconds)


async def test_timeouts_leave_nothing(box: Sandbox):
    params = stdio_params(box, MAUTIC_MCP_TIMEOUT="1", MAUTIC_MCP_MAX_CONCURRENCY=str(AT_ONCE))
    async with Client(params) as client:
        await client.list_tools()
        box.set(**HANG)
        messages: list[str] = []

        async def one(n: int) -> None:
            result = await client.call_tool("list_contacts", {"limit": 1, "search": f"timeout {n}"})
            messages.append(text(result) if result.is_error else "NOT AN ERROR")

        for batch in range(REPETITIONS // AT_ONCE):
            async with anyio.create_task_group() as group:
                for n in range(AT_ONCE):
                    group.start_soon(one, batch * AT_ONCE + n)
            entries = hung(box)
            assert len(entries) == (batch + 1) * AT_ONCE
            await all_gone(entries)
        assert len(messages) == REPETITIONS
        assert all("no answer within 1 seconds" in message for message in messages), set(messages)
        box.clear()
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error
    await all_gone(box.invocations())


async def test_cancellations_leave_nothing(box: Sandbox):
    params = stdio_params(box, MAUTIC_MCP_MAX_CONCURRENCY=str(AT_ONCE))
    async with Client(params) as client:
        await client.list_tools()
        box.set(**HANG)
        for batch in range(REPETITIONS // AT_ONCE):
            async with anyio.create_task_group() as group:
                for n in range(AT_ONCE):
                    group.start_soon(client.call_tool, "get_contact", {"id": batch * AT_ONCE + n + 1})
                entries = await until_hung(box, (batch + 1) * AT_ONCE)
                group.cancel_scope.cancel()
            await all_gone(entries)
        box.clear()
        result = await client.call_tool("get_contact", {"id": 1})
        assert not result.is_error, text(result)
    await all_gone(box.invocations())


async def test_client_disconnects_mid_call_leave_nothing(box: Sandbox, tmp_path: Path):
    sessions = REPETITIONS // AT_ONCE
    for number in range(sessions):
        session = RawSession(box, tmp_path / f"stderr-{number}.txt", MAUTIC_MCP_MAX_CONCURRENCY=str(AT_ONCE))
        try:
            session.initialize()
            session.tool_names()
            box.set(**HANG)
            for n in range(AT_ONCE):
                session.send(
                    {
                        "jsonrpc": "2.0",
                        "id": 100 + n,
                        "method": "tools/call",
                        "params": {"name": "list_contacts", "arguments": {"limit": 1, "search": f"gone {n}"}},
                    }
                )
            entries = await until_hung(box, (number + 1) * AT_ONCE)
        finally:
            box.clear()
            started = time.monotonic()
            code = await anyio.to_thread.run_sync(session.close)
        assert code == 0, session.stderr()[-2_000:]
        assert time.monotonic() - started < 10, "the server took too long to stop after its client went away"
        assert not alive(session.pid)
        await all_gone(entries)
    assert len(hung(box)) == REPETITIONS
    await all_gone(box.invocations())
    assert server_pids(box) == []


async def hang_then_signal(box: Sandbox, session: RawSession, signum: int) -> list[dict[str, Any]]:
    session.initialize()
    session.tool_names()
    box.set(**HANG)
    for n in range(3):
        session.send(
            {
                "jsonrpc": "2.0",
                "id": 200 + n,
                "method": "tools/call",
                "params": {"name": "get_contact", "arguments": {"id": n + 1}},
            }
        )
    entries = await until_hung(box, 3)
    os.kill(session.pid, signum)
    return entries


def kill_groups(entries: list[dict[str, Any]]) -> None:
    """Whatever a test found, leave nothing running for the tests after it."""
    for entry in entries:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(entry["pgid"], signal.SIGKILL)


async def test_sigterm_to_the_server_leaves_nothing(box: Sandbox, tmp_path: Path):
    """Clients stop a server that does not exit on EOF with SIGTERM (the mcp SDK after 2 s; desktop apps on quit)."""
    session = RawSession(box, tmp_path / "stderr.txt")
    entries: list[dict[str, Any]] = []
    try:
        entries = await hang_then_signal(box, session, signal.SIGTERM)
        with anyio.fail_after(15):
            while session.process.poll() is None:
                await anyio.sleep(0.05)
        await all_gone(entries, 3.0)
    finally:
        box.clear()
        kill_groups(entries)
        session.close()


async def test_sigint_to_the_server_leaves_nothing(box: Sandbox, tmp_path: Path):
    """Observed: on SIGINT the server cancels its calls and kills their groups at once, then exits (130)
    when its stdin closes (the SDK reads stdin in a worker thread that only end-of-file stops)."""
    session = RawSession(box, tmp_path / "stderr.txt")
    entries: list[dict[str, Any]] = []
    try:
        entries = await hang_then_signal(box, session, signal.SIGINT)
        await all_gone(entries)
    finally:
        box.clear()
        kill_groups(entries)
        code = await anyio.to_thread.run_sync(session.close)
    assert code == 130
