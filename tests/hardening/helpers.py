"""Shared pieces of the hardening suite: private sandboxes, servers in process and over stdio, /proc checks."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, Tool

from mautic_mcp.server.server import MauticServer, build_server
from tests.support import Sandbox, cmdline, live_processes, mautic_mcp_argv, sandbox_app, survivors

NOTHING_SENT = "Nothing was sent to Mautic"


def make_sandbox(folder: Path, seeded_db: Path) -> Sandbox:
    """A sandbox of its own in `folder`, on a copy of the seeded database."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "sandbox.db"
    shutil.copyfile(seeded_db, db)
    return Sandbox(db=db, knobs=folder / "knobs.json", log=folder / "invocations.jsonl")


def app_on(box: Sandbox, **flags: Any) -> MauticServer:
    """A server on the sandbox CLI whose processes see `box`, without touching this process's environment."""
    app = sandbox_app(**flags)
    app.membrane.runner.env = {**clean_environ(), **box.env}
    app.reconnect_interval = 0
    return app


def clean_environ() -> dict[str, str]:
    """os.environ without sandbox knobs that a developer's shell may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MEMBRANE_SANDBOX_")}


def text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def log_lines(box: Sandbox) -> int:
    """How many lines the sandbox's invocation log holds (every CLI process writes at least one)."""
    if not box.log.exists():
        return 0
    with box.log.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def new_invocations(box: Sandbox, since: int) -> list[dict[str, Any]]:
    return box.invocations()[since:]


class Served:
    """A server in process behind an MCP client, driven from synchronous code through a blocking portal.

    One event loop in a thread of its own holds the client for as long as the fixture lives, so a
    whole test module (hypothesis examples included) talks to one server.
    """

    def __init__(self, portal: Any, client: Client, app: MauticServer, box: Sandbox) -> None:
        self.portal = portal
        self.client = client
        self.app = app
        self.box = box

    def call(self, name: str, arguments: Any) -> CallToolResult:
        return self.portal.call(self.client.call_tool, name, arguments)

    def tools(self) -> list[Tool]:
        tools: list[Tool] = []
        cursor = None
        while True:
            page = self.portal.call(partial(self.client.list_tools, cursor=cursor))
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                return tools

    def assert_serves(self) -> None:
        """A valid call right now gets a good answer."""
        result = self.call("get_contact", {"id": 1})
        assert not result.is_error, text(result)
        assert json.loads(text(result))["id"] == 1


@contextmanager
def served(app: MauticServer, box: Sandbox) -> Iterator[Served]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server(app))) as client,
    ):
        yield Served(portal, client, app, box)


# --- stdio -------------------------------------------------------------------------------------------


def server_command() -> list[str]:
    return mautic_mcp_argv("--sandbox")


def stdio_env(box: Sandbox, **env: str) -> dict[str, str]:
    """The environment of a stdio server on `box` (PYTHONPATH passes through, so a checkout can be tested)."""
    passed = {name: os.environ[name] for name in ("PATH", "PYTHONPATH") if name in os.environ}
    return {**passed, **box.env, "MAUTIC_MCP_LOG_LEVEL": "WARNING", **env}


def stdio_params(box: Sandbox, **env: str) -> StdioServerParameters:
    command, *args = server_command()
    return StdioServerParameters(command=command, args=args, env=stdio_env(box, **env))


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "hardening", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


# --- /proc -------------------------------------------------------------------------------------------


def wait_all_gone(entries: list[Mapping[str, Any]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        left = survivors(entries)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left behind: {left}")
        time.sleep(0.05)


def environ_of(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def server_pids(box: Sandbox) -> list[int]:
    """Servers (not CLI processes) running on this sandbox: found by their environment and command line."""
    found = []
    for pid in live_processes():
        if pid == os.getpid():
            continue
        line = cmdline(pid)
        is_server = "mautic-mcp" in line or " -m mautic_mcp.server" in line
        if is_server and environ_of(pid).get("MEMBRANE_SANDBOX_LOG") == str(box.log):
            found.append(pid)
    return found


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def sandbox_cli(box: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """The sandbox CLI run directly (not through the server), with no knob in force."""
    env = {**clean_environ(), "MEMBRANE_SANDBOX_DB": str(box.db)}
    return subprocess.run(
        [sys.executable, "-m", "mautic_mcp.sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


class RawSession:
    """A server over real stdio, spoken to in raw JSON-RPC lines; stderr goes to a file to read afterwards."""

    def __init__(self, box: Sandbox, stderr: Path, **env: str) -> None:
        self.stderr_path = stderr
        self._stderr = stderr.open("wb")
        self.process = subprocess.Popen(
            server_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**clean_environ(), **stdio_env(box, **env)},
        )
        self.messages: queue.Queue[Any] = queue.Queue()
        self.unmatched: list[Any] = []
        self._ids = itertools.count(1000)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                self.messages.put({"unparsed": line[:200]})
        self.messages.put(None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, message: Mapping[str, Any] | bytes) -> None:
        assert self.process.stdin is not None
        data = message if isinstance(message, bytes) else (json.dumps(message) + "\n").encode()
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def request(self, method: str, params: Any = None, *, timeout: float = 30) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.response(ident, timeout=timeout)

    def response(self, ident: Any, *, timeout: float = 30) -> dict[str, Any]:
        for index, message in enumerate(self.unmatched):
            if message.get("id") == ident and ("result" in message or "error" in message):
                return self.unmatched.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no response to id {ident!r} within {timeout} s; also got {self.unmatched}")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise AssertionError(f"the server closed stdout before answering id {ident!r}")
            if message.get("id") == ident and ("result" in message or "error" in message):
                return message
            self.unmatched.append(message)

    def collect(self, seconds: float) -> list[Any]:
        """Whatever the server sends within `seconds` (nothing is waited for in particular)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if message is None:
                break
            got.append(message)
        self.unmatched += got
        return got

    def initialize(self) -> dict[str, Any]:
        self.send(INITIALIZE)
        answer = self.response(0)
        self.send(INITIALIZED)
        return answer

    def call(self, name: str, arguments: Any, *, timeout: float = 30) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments}, timeout=timeout)

    def tool_names(self) -> list[str]:
        answer = self.request("tools/list")
        assert "result" in answer, answer
        return [tool["name"] for tool in answer["result"]["tools"]]

    def close(self) -> int:
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=5)
        self._stderr.close()
        return code

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def __enter__(self) -> RawSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
