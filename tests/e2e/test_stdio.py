"""End to end: the installed `mautic-mcp` over real stdio, driven by the `mcp` Python client in both eras.

`era` runs a test once per protocol era: with the client's default, which negotiates 2026-07-28
(`server/discover`, no handshake, change events on `subscriptions/listen`), and with
`Client(..., mode="legacy")`, which speaks 2025-11-25 after the `initialize` handshake.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.session import IncomingMessage
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from mcp.types import ProgressNotification, ProgressNotificationParams, ToolListChangedNotification

from tests.support import ERAS, Sandbox, mautic_mcp_argv, mautic_mcp_argv_with, stdio_env, survivors

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process checks read /proc")

FAST = {"RECONNECT_INTERVAL_SECONDS": 0.0, "PROGRESS_INTERVAL_SECONDS": 0.25}
"""The server's intervals, shortened so a test sees several ticks and a fixed set-up at once."""


def server_params(sandbox: Sandbox, constants: Mapping[str, float] | None = None, **env: str) -> StdioServerParameters:
    command, *args = mautic_mcp_argv_with(constants, "--sandbox") if constants else mautic_mcp_argv("--sandbox")
    return StdioServerParameters(
        command=command, args=args, env=stdio_env(sandbox, **{"MAUTIC_MCP_LOG_LEVEL": "DEBUG", **env})
    )


def connect(
    sandbox: Sandbox,
    era: str,
    constants: Mapping[str, float] | None = None,
    on_message: Any = None,
    **env: str,
) -> Client:
    return Client(server_params(sandbox, constants, **env), mode=ERAS[era], message_handler=on_message)


class Recorder:
    """The progress and tools/list_changed notifications a client receives (listen-stream frames too)."""

    def __init__(self) -> None:
        self.progress: list[ProgressNotificationParams] = []
        self.tools_changed: list[dict[str, Any]] = []
        """The `_meta` of each tools/list_changed: a listen-stream frame carries its subscription id."""
        self.tools_changed_once = anyio.Event()

    async def __call__(self, message: IncomingMessage) -> None:
        if isinstance(message, ProgressNotification):
            self.progress.append(message.params)
        elif isinstance(message, ToolListChangedNotification):
            self.tools_changed.append(dict(message.params.meta or {}) if message.params else {})
            self.tools_changed_once.set()


async def hung_processes(sandbox: Sandbox) -> dict[str, Any]:
    """Wait for the sandbox to log a hanging invocation; return its pid, pgid and grandchild."""
    for _ in range(400):
        for entry in sandbox.invocations():
            if "grandchild" in entry:
                return entry
        await anyio.sleep(0.025)
    raise AssertionError("the CLI never started hanging")


async def assert_gone(entry: dict[str, Any]) -> None:
    for _ in range(100):
        if not survivors([entry]):
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"processes left behind: {survivors([entry])}")


async def test_a_session_lists_and_calls_tools(sandbox: Sandbox, era: str):
    async with connect(sandbox, era) as client:
        assert client.protocol_version == era
        capabilities = client.server_capabilities.tools
        assert capabilities is not None and capabilities.list_changed is True
        tools = (await client.list_tools()).tools
        names = {tool.name for tool in tools}
        assert {"list_contacts", "get_contact", "create_company", "proxy_request"} <= names

        contacts = await client.call_tool("list_contacts", {"limit": 2, "orderBy": "email"})
        records = json.loads(contacts.content[0].text)["records"]
        assert len(records) == 2
        company = await client.call_tool("create_company", {"name": "Stdio Works Ltd"})
        assert not company.is_error, company.content[0].text
        found = await client.call_tool("proxy_request", {"path": "/api/companies", "query": {"search": "Stdio Works"}})
        assert json.loads(found.content[0].text)["total"] in ("1", 1)

        bad = await client.call_tool("get_contact", {})
        assert bad.is_error and "'id': required field is missing" in bad.content[0].text
        with pytest.raises(MCPError):
            await client.call_tool("no-such-tool", {})
        with pytest.raises(MCPError) as misnamed:
            await client.call_tool("list-contacts", {})
        assert misnamed.value.error.code == -32602 and "did you mean list_contacts?" in misnamed.value.error.message

        sandbox.set(fault="rate_limited", fault_on="action run")
        limited = await client.call_tool("list_contacts", {"limit": 1})
        assert limited.is_error and "Wait 30 seconds" in limited.content[0].text
        sandbox.clear()
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error


async def test_timeout_kills_the_cli_and_the_server_goes_on(sandbox: Sandbox, era: str):
    async with connect(sandbox, era, MAUTIC_MCP_TIMEOUT="2") as client:
        await client.list_tools()
        sandbox.set(fault="hang", fault_on="action run")
        result = await client.call_tool("create_contact", {"email": "late@example.org"})
        assert result.is_error
        message = result.content[0].text
        assert "no answer within 2 seconds" in message
        assert "unknown whether the change was made" in message and "check with a read" in message
        await assert_gone(await hung_processes(sandbox))
        sandbox.clear()
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error


async def test_cancellation_kills_the_cli(sandbox: Sandbox, era: str):
    async with connect(sandbox, era) as client:
        await client.list_tools()
        sandbox.set(fault="hang", fault_on="action run")
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "list_contacts", {"limit": 1})
            entry = await hung_processes(sandbox)
            group.cancel_scope.cancel()
        await assert_gone(entry)
        sandbox.clear()
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error


async def test_client_disconnect_mid_call_leaves_nothing(sandbox: Sandbox, era: str):
    sandbox.set(fault="hang", fault_on="action run")
    entry: dict[str, Any] = {}
    async with connect(sandbox, era) as client:
        await client.list_tools()
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "list_contacts", {"limit": 1})
            entry = await hung_processes(sandbox)
            group.cancel_scope.cancel()
    await assert_gone(entry)


async def test_stdout_carries_only_protocol(sandbox: Sandbox, era: str):
    """Run a session by hand and check every stdout line is JSON-RPC, while logs go to stderr."""
    params = server_params(sandbox, MEMBRANE_SANDBOX_FAULT="stderr_noise")
    process = await anyio.open_process([params.command, *params.args], env={**os.environ, **(params.env or {})})
    assert process.stdin and process.stdout and process.stderr
    call = {"name": "list_contacts", "arguments": {"limit": 1}}
    if era == "2025-11-25":
        requests = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": era, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
        ]
    else:
        envelope = {
            "io.modelcontextprotocol/protocolVersion": era,
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        requests = [{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {**call, "_meta": envelope}}]
    async with process:
        for request in requests:
            await process.stdin.send((json.dumps(request) + "\n").encode())
        lines: list[dict[str, Any]] = []
        buffer = b""
        with anyio.fail_after(60):
            while not any(m.get("id") == 2 for m in lines):
                buffer += await process.stdout.receive()
                *complete, buffer = buffer.split(b"\n")
                lines += [json.loads(line) for line in complete if line.strip()]
        await process.stdin.aclose()
        with anyio.fail_after(20):
            await process.wait()
        stderr = await process.stderr.receive() if process.stderr else b""
    assert all(message.get("jsonrpc") == "2.0" for message in lines)
    call = next(m for m in lines if m.get("id") == 2)
    assert call["result"]["isError"] is False
    assert b"membrane action run" in stderr


async def test_a_long_call_reports_progress_until_it_ends(sandbox: Sandbox, era: str):
    recorder = Recorder()
    heard: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, total, message))

    async with connect(sandbox, era, FAST, recorder) as client:
        await client.list_tools()
        sandbox.set(fault="slow:2", fault_on="action run")
        result = await client.call_tool("list_contacts", {"limit": 1}, progress_callback=on_progress)
        assert not result.is_error, result.content[0].text
        await anyio.sleep(4 * FAST["PROGRESS_INTERVAL_SECONDS"])

    progress = [value for value, _, _ in heard]
    assert len(progress) >= 4, heard
    assert progress == sorted(progress) and len(set(progress)) == len(progress), progress
    interval = FAST["PROGRESS_INTERVAL_SECONDS"]
    steps = [later - earlier for earlier, later in zip([0.0, *progress], progress, strict=False)]
    assert all(interval - 0.05 <= step <= interval + 0.2 for step in steps), steps
    assert all(re.fullmatch(r"list_contacts: still running after \d+ s", message or "") for _, _, message in heard)
    assert len(recorder.progress) == len(heard), "progress came after the response"


async def test_no_progress_without_a_progress_token(sandbox: Sandbox, era: str):
    recorder = Recorder()
    async with connect(sandbox, era, FAST, recorder) as client:
        await client.list_tools()
        sandbox.set(fault="slow:1.5", fault_on="action run")
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error
        await anyio.sleep(2 * FAST["PROGRESS_INTERVAL_SECONDS"])
    assert recorder.progress == []


async def test_the_client_is_told_when_tools_appear(sandbox: Sandbox, era: str):
    """A broken set-up fixed while the server runs: the next call finds the tools and the client hears of it."""
    sandbox.set(state="logged_out")
    recorder = Recorder()
    async with connect(sandbox, era, FAST, recorder) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == ["proxy_request"]
        if era == "2025-11-25":
            sandbox.clear()
            assert not (await client.call_tool("proxy_request", {"path": "/api/contacts"})).is_error
            with anyio.fail_after(10):
                await recorder.tools_changed_once.wait()
        else:
            async with client.listen(tools_list_changed=True) as subscription:
                sandbox.clear()
                assert not (await client.call_tool("proxy_request", {"path": "/api/contacts"})).is_error
                with anyio.fail_after(10):
                    event = await anext(subscription)
            assert isinstance(event, ToolsListChanged)
        assert "list_contacts" in {tool.name for tool in (await client.list_tools()).tools}
    on_listen_stream = [SUBSCRIPTION_ID_META_KEY in meta for meta in recorder.tools_changed]
    assert on_listen_stream == [era == "2026-07-28"], "one notification, on the listen stream only at 2026-07-28"
