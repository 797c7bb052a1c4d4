"""`mautic-mcp --sandbox --transport http`: one server process, many clients over streamable HTTP.

The server runs as a subprocess on a free loopback port; the `mcp` Python client, the TypeScript SDK's
StreamableHTTPClientTransport and the MCP Inspector CLI talk to it at http://127.0.0.1:PORT/mcp.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import ToolListChangedNotification

from tests.e2e.test_independent_clients import TS_SDK_CLIENT, describe, inspector_script, node  # noqa: F401
from tests.support import ERAS, Sandbox, mautic_mcp_argv, mautic_mcp_argv_with, survivors

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process checks read /proc")

TOKEN = "s3cret-token-0123456789abcdef"
FAST = {"RECONNECT_INTERVAL_SECONDS": 0.0}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
POST_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class HttpServer:
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


def server_env(sandbox: Sandbox, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEMBRANE_SANDBOX_", "MAUTIC_MCP_"))}
    return {**base, **sandbox.env, "MAUTIC_MCP_LOG_LEVEL": "DEBUG", **env}


@contextlib.contextmanager
def http_server(
    sandbox: Sandbox,
    *args: str,
    constants: Mapping[str, float] | None = None,
    **env: str,
) -> Iterator[HttpServer]:
    """`mautic-mcp --sandbox --transport http --port <free>` until the block ends, then SIGTERM."""
    port = free_port()
    flags = ("--sandbox", "--transport", "http", "--port", str(port), *args)
    argv = mautic_mcp_argv_with(constants, *flags) if constants else mautic_mcp_argv(*flags)
    stderr = sandbox.db.parent / f"server-{port}.stderr"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(argv, env=server_env(sandbox, **env), stdin=subprocess.DEVNULL, stderr=sink)
    server = HttpServer(f"http://127.0.0.1:{port}/mcp", process, stderr)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the server exited {process.returncode}:\n{server.log()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert time.monotonic() < deadline, f"the server did not listen within 30 s:\n{server.log()}"
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.asynccontextmanager
async def client(url: str, era: str = "auto", token: str | None = None, on_message: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=era, message_handler=on_message) as c,
    ):
        yield c


def records(result: Any) -> list[dict[str, Any]]:
    assert not result.is_error, result.content
    [block] = result.content
    return list(json.loads(block.text)["records"])


def max_overlap(entries: list[dict[str, Any]]) -> int:
    """The most CLI processes the sandbox log shows running at one time."""
    edges = sorted([(e["start"], 1) for e in entries if "end" in e] + [(e["end"], -1) for e in entries if "end" in e])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


# --- clients ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", list(ERAS))
async def test_python_client_lists_and_calls_tools(sandbox: Sandbox, era: str) -> None:
    with http_server(sandbox) as server:
        async with client(server.url, ERAS[era]) as c:
            assert c.protocol_version == era
            names = {tool.name for tool in (await c.list_tools()).tools}
            assert {"list_contacts", "get_contact", "proxy_request"} <= names
            listed = records(await c.call_tool("list_contacts", {"limit": 3}))
            assert 1 <= len(listed) <= 3
            got = await c.call_tool("get_contact", {"id": listed[0]["id"]})
            assert not got.is_error, got.content


async def test_typescript_and_python_clients_at_once(node: str, sandbox: Sandbox) -> None:  # noqa: F811
    with http_server(sandbox, MAUTIC_MCP_HTTP_TOKEN=TOKEN) as server:
        env = {**server_env(sandbox), "MCP_HTTP_TOKEN": TOKEN}
        ts: list[subprocess.CompletedProcess[str]] = []

        async def typescript() -> None:
            argv = [node, str(TS_SDK_CLIENT), server.url]
            ts.append(
                await anyio.to_thread.run_sync(
                    lambda: subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
                )
            )

        async def python() -> None:
            async with client(server.url, token=TOKEN) as c:
                for _ in range(5):
                    assert len(records(await c.call_tool("list_contacts", {"limit": 2}))) == 2

        async with anyio.create_task_group() as group:
            group.start_soon(typescript)
            group.start_soon(python)
        [result] = ts
        assert result.returncode == 0, describe(result)
        assert "not ok" not in result.stdout, describe(result)
        for check in (
            "initialize",
            "tools/list follows every nextCursor",
            "list_contacts {limit: 3} returns records",
            "get_contact returns the listed contact",
            "proxy_request GET /api/contacts returns total and contacts",
        ):
            assert f"ok - {check}" in result.stdout, describe(result)
        assert TOKEN not in server.log()


@pytest.mark.parametrize("method", ["tools/list", "tools/call"])
def test_inspector_over_http(node: str, sandbox: Sandbox, method: str) -> None:  # noqa: F811
    with http_server(sandbox, MAUTIC_MCP_HTTP_TOKEN=TOKEN) as server:
        call = ["--tool-name=list_contacts", "--tool-arg", "limit=3"] if method == "tools/call" else []
        argv = [
            node,
            str(inspector_script()),
            "--cli",
            server.url,
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            f"--method={method}",
            *call,
            "--format=json",
        ]
        result = subprocess.run(argv, env=server_env(sandbox), capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, describe(result)
        answer = json.loads(result.stdout)["result"]
        if method == "tools/list":
            assert {"list_contacts", "proxy_request"} <= {tool["name"] for tool in answer["tools"]}
        else:
            assert not answer.get("isError"), describe(result)
            [text] = [block["text"] for block in answer["content"] if block["type"] == "text"]
            assert 1 <= len(json.loads(text)["records"]) <= 3


# --- safety ----------------------------------------------------------------------------------------------


def test_bearer_token_is_required_and_never_logged(sandbox: Sandbox) -> None:
    with http_server(sandbox, MAUTIC_MCP_HTTP_TOKEN=TOKEN) as server, httpx2.Client(timeout=10) as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}x"},
        ):
            answer = http.post(server.url, json=INITIALIZE, headers={**POST_HEADERS, **headers})
            assert answer.status_code == 401, (headers, answer.status_code)
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert http.get(server.url.replace("/mcp", "/other")).status_code == 401
        ok = http.post(server.url, json=INITIALIZE, headers={**POST_HEADERS, "Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200, ok.text
    assert TOKEN not in server.log()
    assert "Bearer" not in server.log()


@pytest.mark.parametrize("token", [None, TOKEN])
def test_a_foreign_host_header_is_refused(sandbox: Sandbox, token: str | None) -> None:
    env = {"MAUTIC_MCP_HTTP_TOKEN": token} if token else {}
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    with http_server(sandbox, **env) as server, httpx2.Client(timeout=10) as http:
        foreign = http.post(server.url, json=INITIALIZE, headers={**POST_HEADERS, **auth, "Host": "evil.example:80"})
        assert 400 <= foreign.status_code < 500, foreign.status_code
        ours = http.post(server.url, json=INITIALIZE, headers={**POST_HEADERS, **auth})
        assert ours.status_code == 200, ours.text


def test_a_non_loopback_bind_without_a_token_exits_2(sandbox: Sandbox) -> None:
    for args, env in (
        (["--host", "0.0.0.0"], {}),
        ([], {"MAUTIC_MCP_HOST": "192.0.2.1"}),
        ([], {"MAUTIC_MCP_PORT": "0"}),
        ([], {"MAUTIC_MCP_TRANSPORT": "websocket"}),
    ):
        argv = mautic_mcp_argv("--sandbox", "--transport", env.get("MAUTIC_MCP_TRANSPORT", "http"), *args)
        env = {k: v for k, v in env.items() if k != "MAUTIC_MCP_TRANSPORT"} if "--transport" in argv else env
        done = subprocess.run(
            argv,
            env=server_env(sandbox, **env),
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 2, (args, env, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mautic-mcp: "), done.stderr


# --- sharing ---------------------------------------------------------------------------------------------


async def test_every_session_hears_of_changed_tools(sandbox: Sandbox) -> None:
    """Two sessions of each era on one server: a fixed set-up is announced to all four (one that ended is no bother)."""
    sandbox.set(state="logged_out")
    heard: dict[str, anyio.Event] = {}

    def recorder(name: str) -> Any:
        heard[name] = anyio.Event()

        async def on_message(message: Any) -> None:
            if isinstance(message, ToolListChangedNotification):
                heard[name].set()

        return on_message

    with http_server(sandbox, constants=FAST) as server:
        async with contextlib.AsyncExitStack() as stack:
            legacy = [
                await stack.enter_async_context(client(server.url, "legacy", on_message=recorder(f"legacy{i}")))
                for i in range(2)
            ]
            modern = [await stack.enter_async_context(client(server.url, "auto")) for _ in range(2)]
            for c in [*legacy, *modern]:
                assert [tool.name for tool in (await c.list_tools()).tools] == ["proxy_request"]
            async with client(server.url, "legacy") as gone:  # a session that ends before the change
                await gone.list_tools()
            subscriptions = [await stack.enter_async_context(c.listen(tools_list_changed=True)) for c in modern]
            await anyio.sleep(0.5)  # the legacy sessions' GET streams open
            sandbox.clear()
            assert not (await legacy[0].call_tool("proxy_request", {"path": "/api/contacts"})).is_error
            with anyio.fail_after(15):
                for subscription in subscriptions:
                    assert isinstance(await anext(subscription), ToolsListChanged)
                for event in heard.values():
                    await event.wait()
            for c in [*legacy, *modern]:
                assert "list_contacts" in {tool.name for tool in (await c.list_tools()).tools}


async def test_load_100_sessions_5_calls_each(sandbox: Sandbox) -> None:
    """100 concurrent sessions (half of each era), 5 calls each: every answer right, the CLI cap shared."""
    started = time.monotonic()
    with http_server(sandbox, "--max-concurrency", "8", MAUTIC_MCP_LOG_LEVEL="WARNING") as server:
        answers: list[int] = []

        async def session(number: int) -> None:
            async with client(server.url, "legacy" if number % 2 else "auto") as c:
                for call in range(5):
                    limit = 1 + (number + call) % 4
                    assert len(records(await c.call_tool("list_contacts", {"limit": limit}))) == limit
                    answers.append(number)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for number in range(100):
                    group.start_soon(session, number)
        assert len(answers) == 500
        assert sorted(set(answers)) == list(range(100))
        runs = [e for e in sandbox.invocations() if e["argv"][:2] == ["action", "run"]]
        assert len(runs) == 500
        assert max_overlap(sandbox.invocations()) <= 8
    elapsed = time.monotonic() - started
    assert elapsed < 45, f"took {elapsed:.1f} s"


async def test_sigterm_leaves_no_cli_process(sandbox: Sandbox) -> None:
    """Three sessions' calls hang in the CLI; SIGTERM ends the server and every CLI process group."""
    sandbox.set(fault="hang", fault_on="action run")
    with http_server(sandbox) as server:

        async def call() -> None:
            with contextlib.suppress(Exception):  # the server goes away mid-call
                async with client(server.url) as c:
                    await c.call_tool("list_contacts", {"limit": 1})

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)
            with anyio.fail_after(15):
                while len([e for e in sandbox.invocations() if e.get("event") == "start"]) < 3:
                    await anyio.sleep(0.05)
            server.process.send_signal(signal.SIGTERM)
            await anyio.to_thread.run_sync(lambda: server.process.wait(10))
            group.cancel_scope.cancel()
    assert server.process.returncode == 128 + signal.SIGTERM
    entries = sandbox.invocations()
    assert len([e for e in entries if e.get("event") == "start"]) == 3
    for _ in range(100):
        if not survivors(entries):
            break
        await anyio.sleep(0.05)
    assert not survivors(entries)


def test_a_taken_port_is_one_line_and_exit_1(sandbox: Sandbox) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        argv = mautic_mcp_argv("--sandbox", "--transport", "http", "--port", port)
        done = subprocess.run(
            argv, env=server_env(sandbox), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mautic-mcp: cannot listen on 127.0.0.1 port {port}"), done.stderr
    assert not sandbox.invocations(), "no CLI process starts"
