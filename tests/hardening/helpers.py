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
from tests.support import (
    Sandbox,
    cmdline,
    live_processes,
    mautic_mcp_argv,
    read_jsonl,
    sandbox_app,
    stdio_env,
    survivors,
    text,
)

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


# --- hostile fake CLIs -----------------------------------------------------------------------------------

HOSTILE_CLI = r'''
"""A `membrane` that does what the scenario file says, logging every process it starts."""
import json, os, sys, time

def log(record):
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(os.environ["HOSTILE_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, line)
    os.close(fd)

def command(argv):
    words = [a for a in argv if not a.startswith("-")]
    if "--" in argv:
        words = [a for a in argv[: argv.index("--")] if not a.startswith("-")]
    if argv[:1] == ["--version"]:
        return "version"
    if words[:1] in (["connection"], ["action"]):
        return " ".join(words[:2])
    return words[0] if words else ""

def value(argv, flag):
    for arg in argv:
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1 :]
    return ""

def stray(kind, record):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if kind == "daemon":
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
        time.sleep(60)
        os._exit(0)
    record["grandchild"] = pid

def main():
    argv = sys.argv[1:]
    with open(os.environ["HOSTILE_SCENARIO"]) as fh:
        scenario = json.load(fh)
    name = command(argv)
    record = {"pid": os.getpid(), "pgid": os.getpgid(0), "argv": argv, "command": name}
    behaviour = scenario.get(name, {})
    if behaviour.get("stray"):
        stray(behaviour["stray"], record)
    log(record)
    time.sleep(behaviour.get("sleep", 0))
    if behaviour.get("touch"):
        open(behaviour["touch"], "w").write("the write went through\n")
    err = behaviour.get("stderr", "")
    if behaviour.get("echo"):
        err += " input was " + value(argv, "--input") + value(argv, "--data")
    sys.stderr.write(err)
    sys.stderr.flush()
    if behaviour.get("endless"):
        chunk = "x" * 65536
        while True:
            sys.stdout.write(chunk)
    out = behaviour.get("stdout")
    if out is None:
        out = json.dumps(scenario["answers"].get(name, {}))
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.exit(behaviour.get("exit", 0))

main()
'''


def write_hostile_cli(folder: Path) -> Path:
    """The hostile fake `membrane` as an executable script in `folder` (Python, run by this interpreter)."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "membrane"
    program.write_text(f"#!{sys.executable}\n{HOSTILE_CLI}")
    program.chmod(0o755)
    return program


def hostile_log(path: Path) -> list[dict[str, Any]]:
    """Every process the hostile CLI started, as it logged itself (pid, pgid, argv, grandchild)."""
    return read_jsonl(path)


def processes_with_env(name: str, value: str) -> list[int]:
    """Live processes whose environment holds `name=value`: found through /proc whatever their parent."""
    return [pid for pid in live_processes() if pid != os.getpid() and environ_of(pid).get(name) == value]


class HostileSession(RawSession):
    """A server over real stdio on the hostile CLI; each line it prints must be strict JSON in strict UTF-8."""

    def __init__(self, program: Path, folder: Path, answers: Mapping[str, Any], *flags: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.answers = dict(answers)
        self.scenario = folder / "scenario.json"
        self.log = folder / "cli.jsonl"
        self.stderr_path = folder / "server.log"
        self._stderr = self.stderr_path.open("wb")
        self.set()
        env = {
            **clean_environ(),
            "HOSTILE_SCENARIO": str(self.scenario),
            "HOSTILE_LOG": str(self.log),
            "MAUTIC_MCP_LOG_LEVEL": "INFO",
        }
        self.process = subprocess.Popen(
            mautic_mcp_argv(f"--membrane-bin={program}", *flags),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self.messages: queue.Queue[Any] = queue.Queue()
        self.unmatched: list[Any] = []
        self._ids = iter(range(1000, 10**6))
        threading.Thread(target=self._read, daemon=True).start()

    def set(self, **behaviours: dict[str, Any]) -> None:
        """What each CLI command does next (`{"action run": {"stderr": …, "exit": 1}}`); answers otherwise."""
        self.scenario.write_text(json.dumps({"answers": self.answers, **behaviours}))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line.decode("utf-8"), parse_constant=not_json)
                json.dumps(message, ensure_ascii=False).encode("utf-8")  # no lone surrogate either
            except ValueError as error:
                message = {"unparsed": repr(line[:300]), "error": str(error)}
            self.messages.put(message)
        self.messages.put(None)

    def result(self, name: str, arguments: dict[str, Any], *, timeout: float = 30) -> tuple[bool, str]:
        """Call a tool; (is_error, text). Fails the test on a protocol error or a line that is not strict JSON."""
        answer = self.call(name, arguments, timeout=timeout)
        assert "result" in answer, answer
        result = answer["result"]
        return bool(result.get("isError")), "".join(block.get("text", "") for block in result["content"])


def not_json(constant: str) -> None:
    """For json.loads(parse_constant=…): NaN and Infinity are not JSON."""
    raise ValueError(f"{constant} is not JSON")
