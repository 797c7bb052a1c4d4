"""End to end: the installed `mautic-mcp` over real stdio, driven by the `mcp` Python client."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.support import Sandbox, mautic_mcp_argv, survivors

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process checks read /proc")


def server_params(sandbox: Sandbox, **env: str) -> StdioServerParameters:
    command, *args = mautic_mcp_argv("--sandbox")
    return StdioServerParameters(
        command=command,
        args=args,
        env={**sandbox.env, "MAUTIC_MCP_LOG_LEVEL": "DEBUG", "PATH": os.environ["PATH"], **env},
    )


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


async def test_a_session_lists_and_calls_tools(sandbox: Sandbox):
    async with Client(server_params(sandbox)) as client:
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

        sandbox.set(fault="rate_limited", fault_on="action run")
        limited = await client.call_tool("list_contacts", {"limit": 1})
        assert limited.is_error and "Wait 30 seconds" in limited.content[0].text
        sandbox.clear()
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error


async def test_timeout_kills_the_cli_and_the_server_goes_on(sandbox: Sandbox):
    async with Client(server_params(sandbox, MAUTIC_MCP_TIMEOUT="2")) as client:
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


async def test_cancellation_kills_the_cli(sandbox: Sandbox):
    async with Client(server_params(sandbox)) as client:
        await client.list_tools()
        sandbox.set(fault="hang", fault_on="action run")
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "list_contacts", {"limit": 1})
            entry = await hung_processes(sandbox)
            group.cancel_scope.cancel()
        await assert_gone(entry)
        sandbox.clear()
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error


async def test_client_disconnect_mid_call_leaves_nothing(sandbox: Sandbox):
    sandbox.set(fault="hang", fault_on="action run")
    entry: dict[str, Any] = {}
    async with Client(server_params(sandbox)) as client:
        await client.list_tools()
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "list_contacts", {"limit": 1})
            entry = await hung_processes(sandbox)
            group.cancel_scope.cancel()
    await assert_gone(entry)


async def test_stdout_carries_only_protocol(sandbox: Sandbox):
    """Run a session by hand and check every stdout line is JSON-RPC, while logs go to stderr."""
    params = server_params(sandbox, MEMBRANE_SANDBOX_FAULT="stderr_noise")
    process = await anyio.open_process([params.command, *params.args], env={**os.environ, **(params.env or {})})
    assert process.stdin and process.stdout and process.stderr
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "list_contacts", "arguments": {"limit": 1}},
        },
    ]
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
