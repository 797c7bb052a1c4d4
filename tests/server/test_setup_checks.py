"""The set-up is checked in the background: requests answer within seconds whatever the CLI does.

In process, on the real sandbox CLI: `tools/list` while `connection list` hangs, a call during the hang,
a hang that times out and is retried, a partly failed discovery healed by the retry schedule (in
Membrane's order, with one change event), the schedule's spacing under pressure and its back-off,
2025-era sessions told by the background path, and cursors that are not ours.
"""

from __future__ import annotations

import itertools
import logging
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError
from mcp.types import ToolListChangedNotification

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.errors import ErrorCode, MembraneError
from mautic_mcp.server.server import MauticServer, build_server
from tests.support import Sandbox, sandbox_app, survivors, text

HUNG = {"fault": "hang", "fault_on": "connection list"}
LIST_BOUND = 3.0
"""`tools/list` must answer within this while the set-up is being checked (the issue's bound)."""


async def names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


def hung(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.invocations() if "grandchild" in entry]


def connection_lists(sandbox: Sandbox) -> int:
    return sum(1 for entry in sandbox.invocations() if entry["argv"][:2] == ["connection", "list"])


async def assert_gone(entries: list[dict[str, Any]]) -> None:
    for _ in range(200):
        if not survivors(entries):
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"processes left behind: {survivors(entries)}")


def flaky(app: MauticServer, failing: set[str], tried: list[tuple[str, float]]) -> None:
    """Make discovery of the intents in `failing` fail as a rate limit would; record every attempt."""
    real = app.membrane.list_actions

    async def list_actions(connection_id: str, intent: str, limit: int) -> list[Action]:
        tried.append((intent, anyio.current_time()))
        if intent in failing:
            raise MembraneError(ErrorCode.RATE_LIMITED, "Rate limit exceeded.", "Wait 30 seconds, then try again.")
        return await real(connection_id, intent, limit)

    app.membrane.list_actions = list_actions  # type: ignore[method-assign]


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_tools_list_answers_while_connection_list_hangs(sandbox: Sandbox):
    sandbox.set(**HUNG)
    app = sandbox_app()
    async with Client(build_server(app)) as client:
        started = anyio.current_time()
        listed = await names(client)
        elapsed = anyio.current_time() - started
        assert listed == ["proxy_request"]
        assert elapsed <= LIST_BOUND, f"tools/list took {elapsed:.1f} s"

        result = await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})
        assert result.is_error
        assert "still checking the Membrane set-up" in text(result) and "has not answered" in text(result)
        assert "Try again in a few seconds" in text(result) and "Nothing was sent to Mautic" in text(result)
        pending = await client.call_tool("list_contacts", {"limit": 1})
        assert pending.is_error and text(pending).startswith("list_contacts is not available yet: ")
        assert await names(client) == ["proxy_request"]
        assert connection_lists(sandbox) == 1, "a request ran the hanging check again"
        entries = hung(sandbox)
        assert len(entries) == 1
    await assert_gone(entries)


async def test_a_hang_that_times_out_is_retried_when_a_request_needs_it(sandbox: Sandbox):
    sandbox.set(**HUNG)
    app = sandbox_app(timeout=1)
    app.reconnect_interval = 0
    async with Client(build_server(app)) as client:
        assert await names(client) == ["proxy_request"]
        with anyio.fail_after(10):
            while app.check is not None:
                await anyio.sleep(0.05)
        await assert_gone(hung(sandbox))
        assert app.problem is not None and app.problem.code is ErrorCode.TIMEOUT
        sandbox.clear()
        fixed = await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})
        assert not fixed.is_error, text(fixed)
        assert "list_contacts" in await names(client)


async def test_a_partly_failed_discovery_heals_in_the_background(sandbox: Sandbox):
    intents = ["contacts", "campaigns", "segments"]
    reference = sandbox_app(intents=intents)
    await reference.start()

    app = sandbox_app(intents=intents)
    app.retry_first = app.reconnect_interval = 0.2
    failing, tried = {"campaigns"}, []
    flaky(app, failing, tried)
    changed = anyio.Event()
    events: list[object] = []
    app.events.subscribe(lambda event: (events.append(event), changed.set() if len(events) > 1 else None))
    async with Client(build_server(app)) as client:
        first = await names(client)
        assert "list_contacts" in first and "list_segments" in first and "list_campaigns" not in first
        assert set(app.failures) == {"campaigns"}
        with anyio.fail_after(5):
            while sum(intent == "campaigns" for intent, _ in tried) < 2:
                await anyio.sleep(0.02)
        failing.clear()
        with anyio.fail_after(10):
            await changed.wait()
        healed = await names(client)
    assert healed == [tool.name for tool in reference.tools()], "the merged list keeps Membrane's order"
    assert app.failures == {} and app.discovery.counts == reference.discovery.counts
    assert len(events) == 2, "one change for the start, one for the heal"
    retries = [at for intent, at in tried if intent == "campaigns"]
    assert all(gap >= 0.2 - 0.05 for gap in gaps(retries)), gaps(retries)


async def test_requests_never_retry_faster_than_the_interval(sandbox: Sandbox):
    app = sandbox_app(intents=["contacts", "campaigns"])
    app.reconnect_interval, app.retry_first = 0.3, 0.3
    tried: list[tuple[str, float]] = []
    flaky(app, {"campaigns"}, tried)
    async with Client(build_server(app)) as client:
        with anyio.move_on_after(1.5):
            while True:
                await names(client)
                with pytest.raises(MCPError):
                    await client.call_tool("list_campaign", {})
    retries = [at for intent, at in tried if intent == "campaigns"]
    assert len(retries) >= 2, retries
    assert all(gap >= 0.3 - 0.05 for gap in gaps(retries)), gaps(retries)
    assert [intent for intent, _ in tried].count("contacts") == 1, "an intent that answered is not asked again"


async def test_retries_nobody_asked_for_back_off(sandbox: Sandbox):
    app = sandbox_app(intents=["contacts", "campaigns"])
    app.reconnect_interval, app.retry_first, app.retry_max = 0.02, 0.05, 0.2
    tried: list[tuple[str, float]] = []
    flaky(app, {"campaigns"}, tried)
    async with Client(build_server(app)):
        await anyio.sleep(1.2)
    retries = gaps([at for intent, at in tried if intent == "campaigns"])
    assert len(retries) >= 4, retries
    floors = [0.05, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    assert all(gap >= floor - 0.02 for gap, floor in zip(retries, floors, strict=False)), retries


async def test_the_background_path_tells_2025_era_sessions(sandbox: Sandbox):
    """Tools that appear with no request of the client's are announced to a session that did the handshake."""
    sandbox.set(state="logged_out")
    app = sandbox_app()
    app.retry_first = app.reconnect_interval = 0.2
    heard = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ToolListChangedNotification):
            heard.set()

    async with Client(build_server(app), mode="legacy", message_handler=on_message) as client:
        assert client.protocol_version == "2025-11-25"
        assert await names(client) == ["proxy_request"]
        sandbox.clear()
        with anyio.fail_after(10):
            await heard.wait()
        assert "list_contacts" in await names(client)


BAD_CURSORS = ["\u00b2", "\u0665", "1\u0665", "\uff11", "9" * 5_000, "-1", "+1", " 1", "1 ", "0x1", "1e2", "", "1_0"]
BAD_CURSORS.append("99")
"""Superscript, Arabic-Indic and fullwidth digits (str.isdigit says yes), 5,000 digits (int() refuses), not digits
at all, and an index past the end."""


async def test_cursors_that_are_not_ours_are_invalid_params(sandbox: Sandbox):
    async with Client(build_server(sandbox_app(page_size=4))) as client:
        first = await client.list_tools()
        assert first.next_cursor == "4"
        for cursor in BAD_CURSORS:
            with pytest.raises(MCPError) as raised:
                await client.list_tools(cursor=cursor)
            assert raised.value.error.code == -32602, cursor
            assert raised.value.error.message.startswith("Unknown cursor: "), raised.value.error.message
            assert len(raised.value.error.message) < 120
        assert len((await client.list_tools(cursor="4")).tools) == 4


async def test_what_the_server_logs_from_outside_stays_on_one_line(sandbox: Sandbox, caplog: pytest.LogCaptureFixture):
    forged = "Rate limit\r\n2026-01-01 00:00:00,000 INFO mautic_mcp.server.server: FORGED\u2028\u2029\x85\x1b[2K"
    app = sandbox_app(intents=["contacts", "campaigns"])

    async def failing(connection_id: str, intent: str, limit: int) -> list[Action]:
        raise MembraneError(ErrorCode.FAILED, forged, forged)

    app.membrane.list_actions = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="mautic_mcp.server"):
        await app.start()
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("mautic_mcp.server")]
    assert any("FORGED" in message for message in messages)
    for message in messages:
        assert not any(mark in message for mark in ("\r", "\n", "\u2028", "\u2029", "\x85", "\x1b")), message


def test_a_session_that_shakes_hands_again_is_told_once():
    """Sessions of one connection share its client_params: the newest stands for the connection."""
    app = sandbox_app()
    first, other = object(), object()
    a, b, again = (SimpleNamespace(client_params=params) for params in (first, other, first))
    for session in (a, b, again):
        app.remember_session(session)  # type: ignore[arg-type]
    assert app.legacy_sessions == [b, again]
