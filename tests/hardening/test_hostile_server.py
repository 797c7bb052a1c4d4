"""Stalls and hostile answers over real stdio: the server answers, answers the next request, leaves nothing running.

`mautic-mcp` runs as a subprocess on a fake `membrane` this module writes: it is the sandbox, except that
the control file can make a command hang (with a grandchild in its process group) until released, make
discovery fail for some intents with a message that tries to forge log lines, or put lone surrogates in
what it prints. Each case checks that the request is answered, that the next one is too, that no process
the fake started is left, and that neither the results nor the server's log hold the call's secret.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.session import IncomingMessage
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ToolListChangedNotification

from tests.hardening.helpers import RawSession, clean_environ, make_sandbox, wait_all_gone
from tests.support import ERAS, Sandbox, mautic_mcp_argv_with, read_jsonl, sandbox_app, stdio_env, text

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc checks, a POSIX fake CLI")

FAST = {"RECONNECT_INTERVAL_SECONDS": 0.3, "RETRY_FIRST_SECONDS": 0.3, "RETRY_MAX_SECONDS": 1.0}
LIST_BOUND = 4.5
"""`tools/list` answers within this during a set-up check: the server waits 2.5 s, plus room for a loaded machine."""
SECRET = "qs-access-token-SECRET-4242"
FORGED = "2026-01-01 00:00:00,000 WARNING mautic_mcp.server.server: FORGED"
LONE = "\ud83d"

FAKE_CLI = r"""
import json, os, subprocess, sys, time

CONTROL, LOG = os.environ["FAKE_CONTROL"], os.environ["FAKE_LOG"]
FORGED = os.environ["FAKE_FORGED"]


def control():
    try:
        with open(CONTROL) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def log(record):
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, (json.dumps(record) + "\n").encode())
    os.close(fd)


argv = sys.argv[1:]
words = [a for a in argv if not a.startswith("-")]
command = " ".join(words[:2]) if words[:1] in (["connection"], ["action"]) else (words[:1] or [""])[0]
intent = next((a.partition("=")[2] for a in argv if a.startswith("--intent=")), None)
record = {"pid": os.getpid(), "pgid": os.getpgid(0), "argv": argv, "command": command}
now = control()
if command in now.get("hang", []):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], stdin=subprocess.DEVNULL)
    record["grandchild"] = child.pid
    log(record)
    while command in control().get("hang", []):
        time.sleep(0.05)
    child.kill()
    child.wait()
    now = control()
else:
    log(record)
sandbox = [sys.executable, "-m", "mautic_mcp.sandbox", *argv]
if intent is not None and intent in now.get("fail_intents", []):
    error = {"type": "bad_request", "key": "rate_limit_exceeded", "data": {"retryAfter": 30},
             "message": "Rate limit exceeded.\r\n" + FORGED + "\u2028" + FORGED + "\x85" + FORGED + "\x1b[1A"}
    sys.stdout.write(json.dumps(error))
    sys.stderr.write(json.dumps(error))
    sys.exit(1)
if command in now.get("lone", []):
    done = subprocess.run(sandbox, capture_output=True, stdin=subprocess.DEVNULL)
    answer = json.loads(done.stdout)
    if command == "action list":
        lone = {"id": "lone-1", "key": "list-lone-things", "name": "List lone \ud83d things",
                "description": "Cut mid-emoji \ud83d", "inputSchema": {"type": "object"}}
        answer["items"].insert(0, lone)
    else:
        answer = {"note": "cut mid-emoji \ud83d", "answer": answer}
    sys.stdout.write(json.dumps(answer))
    sys.exit(done.returncode)
os.execv(sys.executable, sandbox)
"""

STDERR_TO = (
    "import json, os, sys\n"
    "argv, path = json.loads(sys.argv[1]), sys.argv[2]\n"
    "os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)\n"
    "os.execv(argv[0], argv)\n"
)
"""Runs the server with its stderr appended to a file, to read its log afterwards."""


@dataclass
class Fake:
    """The fake `membrane` of one test: its control file, its process log and the server's stderr."""

    folder: Path
    box: Sandbox
    program: Path = field(init=False)

    def __post_init__(self) -> None:
        self.program = self.folder / "membrane"
        self.program.write_text(f"#!{sys.executable}\n{FAKE_CLI}")
        self.program.chmod(0o755)

    @property
    def control(self) -> Path:
        return self.folder / "control.json"

    @property
    def log(self) -> Path:
        return self.folder / "cli.jsonl"

    @property
    def stderr(self) -> Path:
        return self.folder / "server.log"

    def set(self, **control: Any) -> None:
        self.control.write_text(json.dumps(control))

    def started(self, command: str | None = None) -> list[dict[str, Any]]:
        return [entry for entry in read_jsonl(self.log) if command is None or entry["command"] == command]

    def params(self, *flags: str, constants: Mapping[str, float] = FAST) -> StdioServerParameters:
        argv = mautic_mcp_argv_with(constants, f"--membrane-bin={self.program}", *flags)
        env = stdio_env(
            self.box,
            FAKE_CONTROL=str(self.control),
            FAKE_LOG=str(self.log),
            FAKE_FORGED=FORGED,
            MAUTIC_MCP_LOG_LEVEL="INFO",
        )
        return StdioServerParameters(
            command=sys.executable, args=["-c", STDERR_TO, json.dumps(argv), str(self.stderr)], env=env
        )

    def server_log(self) -> str:
        return self.stderr.read_text(errors="replace") if self.stderr.exists() else ""


@pytest.fixture
def fake(tmp_path: Path, seeded_db: Path) -> Fake:
    return Fake(tmp_path, make_sandbox(tmp_path / "sandbox", seeded_db))


class Recorder:
    """Counts the tools/list_changed notifications a 2025-era session receives."""

    def __init__(self) -> None:
        self.tools_changed = 0

    async def __call__(self, message: IncomingMessage) -> None:
        if isinstance(message, ToolListChangedNotification):
            self.tools_changed += 1

    async def next_change(self, seen: int) -> None:
        with anyio.fail_after(10):
            while self.tools_changed <= seen:
                await anyio.sleep(0.02)


@asynccontextmanager
async def session(
    fake: Fake, era: str, recorder: Recorder | None = None, *flags: str, constants: Mapping[str, float] = FAST
) -> AsyncIterator[Client]:
    """A client session on a server over stdio; afterwards, every process the fake started is gone."""
    try:
        params = fake.params(*flags, constants=constants)
        async with Client(params, mode=ERAS[era], message_handler=recorder) as client:
            assert client.protocol_version == era
            yield client
    finally:
        await anyio.to_thread.run_sync(wait_all_gone, fake.started(), 10.0)


async def names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


async def timed(call: Any) -> tuple[Any, float]:
    started = anyio.current_time()
    result = await call
    return result, anyio.current_time() - started


@asynccontextmanager
async def told_of_a_change(client: Client, era: str, recorder: Recorder) -> AsyncIterator[None]:
    """Wait, after the block, for the one tools/list_changed it caused: on the listen stream at 2026-07-28."""
    if era == "2026-07-28":
        async with client.listen(tools_list_changed=True) as subscription:
            yield
            with anyio.fail_after(10):
                assert isinstance(await anext(subscription), ToolsListChanged)
    else:
        await anyio.sleep(0.1)  # a notification for the start-up list has had time to arrive
        seen = recorder.tools_changed
        yield
        await recorder.next_change(seen)


def clean(fake: Fake, *results: CallToolResult) -> None:
    """No secret in the results or the server's log, and no log line forged from outside text."""
    log = fake.server_log()
    for result in results:
        assert SECRET not in text(result), text(result)
    assert SECRET not in log
    assert not any(mark in log for mark in ("\r", "\u2028", "\u2029", "\x85", "\x1b")), "a line break was forged"
    assert not any(line.startswith(FORGED) for line in log.splitlines()), "a log record was forged"


async def test_a_hung_connection_list_costs_requests_seconds_and_tools_appear_later(fake: Fake, era: str):
    fake.set(hang=["connection list"])
    recorder = Recorder()
    async with session(fake, era, recorder) as client:
        listed, elapsed = await timed(names(client))
        assert listed == ["proxy_request"] and elapsed <= LIST_BOUND, f"tools/list took {elapsed:.1f} s"

        call = client.call_tool("proxy_request", {"path": "/api/contacts", "headers": {"X-Trace": SECRET}})
        pending, elapsed = await timed(call)
        assert pending.is_error and elapsed <= LIST_BOUND, (elapsed, text(pending))
        assert "still checking the Membrane set-up" in text(pending) and "Try again in a few seconds" in text(pending)
        unknown = await client.call_tool("list_contacts", {"limit": 1})
        assert unknown.is_error and "is not available yet" in text(unknown)
        assert len(fake.started("connection list")) == 1, "a request ran the hanging check again"

        async with told_of_a_change(client, era, recorder):
            fake.set()
        # A discovery slower than the server's wait is served in parts, each a change of its own.
        with anyio.fail_after(15):
            while "list_contacts" not in await names(client):
                await anyio.sleep(0.2)
        listed_contacts = await client.call_tool("list_contacts", {"limit": 1})
        assert not listed_contacts.is_error, text(listed_contacts)
        found = await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})
        assert not found.is_error, text(found)
    assert [entry for entry in fake.started() if "grandchild" in entry], "the hang never happened"
    clean(fake, pending, unknown, listed_contacts, found)


async def test_a_check_still_hanging_when_the_client_leaves_leaves_nothing(fake: Fake):
    fake.set(hang=["connection list"])
    async with session(fake, "2025-11-25", constants={**FAST, "SETUP_WAIT_SECONDS": 1.0}) as client:
        assert await names(client) == ["proxy_request"]
        result = await client.call_tool("proxy_request", {"path": "/api/contacts", "headers": {"X-Trace": SECRET}})
        assert result.is_error and "still checking" in text(result)
        assert await names(client) == ["proxy_request"]
    assert len([entry for entry in fake.started() if "grandchild" in entry]) == 1
    clean(fake, result)


async def test_a_partial_discovery_heals_in_the_background(fake: Fake, era: str):
    intents = ["contacts", "campaigns", "segments"]
    reference = sandbox_app(intents=intents)
    reference.membrane.runner.env = {**clean_environ(), **fake.box.env}
    await reference.start()
    expected = [tool.name for tool in reference.tools()]

    fake.set(fail_intents=["campaigns"])
    recorder = Recorder()
    flags = [f"--intent={intent}" for intent in intents]
    async with session(fake, era, recorder, *flags) as client:
        first = await names(client)
        assert "list_contacts" in first and "list_segments" in first and "list_campaigns" not in first
        with pytest.raises(MCPError) as raised:
            await client.call_tool("list_campaign", {})
        assert "Discovery failed for 'campaigns'" in raised.value.error.message
        async with told_of_a_change(client, era, recorder):
            fake.set()
        assert await names(client) == expected, "merged in the order a discovery with no failure gives"
        result = await client.call_tool("list_campaigns", {"limit": 1})
        assert not result.is_error, text(result)
    log = fake.server_log()
    assert "discovery for intent 'campaigns' failed" in log and "FORGED" in log
    assert len(fake.started("action list")) >= len(intents) + 1
    clean(fake, result)


async def test_lone_surrogates_in_catalog_and_answers_fail_nothing(fake: Fake):
    fake.set(lone=["action list", "request"])
    async with session(fake, "2026-07-28", None, "--intent=contacts") as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        for tool in listed.values():
            json.dumps(tool.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
        if "list_lone_things" not in listed:
            assert "left out 1 tool(s) whose definition cannot be encoded as JSON" in fake.server_log()
        result = await client.call_tool("proxy_request", {"path": "/api/contacts", "headers": {"X-Trace": SECRET}})
        assert LONE not in text(result)
        assert result.is_error or "cut mid-emoji \ufffd" in text(result), text(result)
        fake.set()
        again = await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})
        assert not again.is_error, text(again)
        assert "list_contacts" in await names(client)
    clean(fake, result, again)


def test_cursors_that_are_not_ours_are_invalid_params_over_stdio(tmp_path: Path, seeded_db: Path):
    box = make_sandbox(tmp_path / "sandbox", seeded_db)
    with RawSession(box, tmp_path / "stderr.txt", MAUTIC_MCP_PAGE_SIZE="5") as raw:
        raw.initialize()
        first = raw.request("tools/list")
        assert first["result"]["nextCursor"] == "5"
        for cursor in ["\u00b2", "\u0665", "9" * 5_000, "\uff15", "-5", " 5", "5\n", "0x5", "999"]:
            answer = raw.request("tools/list", {"cursor": cursor})
            assert answer.get("error", {}).get("code") == -32602, (cursor, answer)
            assert answer["error"]["message"].startswith("Unknown cursor: ")
            assert len(answer["error"]["message"]) < 120
        assert len(raw.request("tools/list", {"cursor": "5"})["result"]["tools"]) == 5
        assert raw.process.poll() is None
        assert raw.close() == 0
        assert "Traceback" not in raw.stderr()
