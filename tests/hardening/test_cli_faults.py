"""Every way the CLI can fail gives a specific, actionable error; the server stays up and recovers.

Each case breaks the CLI (a missing or unrunnable binary, a missing `node`, a Membrane state, a fault
knob), checks the is_error text names the problem and the command or setting that fixes it, then
clears the cause and checks that the very next call works.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mautic_mcp.server.config import build_settings
from mautic_mcp.server.server import MauticServer
from tests.hardening.helpers import (
    Served,
    app_on,
    clean_environ,
    make_sandbox,
    served,
    text,
    wait_all_gone,
)
from tests.support import Sandbox

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake CLIs are shell scripts; /proc checks")

CONNECTION = "66a1f0c2b7e4d5a6c3b2a100"
LIST = ("list_contacts", {"limit": 2})
PROXY_GET = ("proxy_request", {"path": "/api/contacts", "query": {"limit": 2}})


@pytest.fixture
def box(tmp_path: Path, seeded_db: Path) -> Sandbox:
    return make_sandbox(tmp_path / "sandbox", seeded_db)


@pytest.fixture
def server(box: Sandbox) -> Iterator[Served]:
    with served(app_on(box), box) as running:
        yield running


def works(server: Served, name: str, arguments: dict[str, Any]) -> Any:
    result = server.call(name, arguments)
    assert not result.is_error, text(result)
    return json.loads(text(result))


def failed(server: Served, name: str, arguments: dict[str, Any]) -> str:
    result = server.call(name, arguments)
    assert result.is_error, text(result)[:500]
    message = text(result)
    assert "Traceback" not in message and "internal error" not in message, message
    return message


def app_with_cli(box: Sandbox, program: str, **flags: Any) -> MauticServer:
    """A server whose CLI is `program` (not the sandbox flag), with processes that see `box`."""
    app = MauticServer(build_settings({"membrane_bin": program, **flags}, env={}))
    app.membrane.runner.env = {**clean_environ(), **box.env}
    app.reconnect_interval = 0
    return app


def shell_cli(path: Path) -> None:
    """A `membrane` that is the sandbox, as a shell script (not executable until chmod'ed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mautic_mcp.sandbox "$@"\n')


def node_cli(path: Path) -> None:
    """A `membrane` written like the real one: a Node script found through `/usr/bin/env node`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/usr/bin/env node\n"
        'const { spawnSync } = require("child_process");\n'
        f"const done = spawnSync({json.dumps(sys.executable)}, "
        '["-m", "mautic_mcp.sandbox", ...process.argv.slice(2)], { stdio: "inherit" });\n'
        "process.exit(done.status === null ? 1 : done.status);\n"
    )
    path.chmod(0o755)


# --- the binary ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["absolute", "bare name"])
def test_missing_binary_says_how_to_install_and_point_to_it(tmp_path: Path, box: Sandbox, where: str):
    program = tmp_path / "bin" / "membrane"
    configured = str(program) if where == "absolute" else "membrane-not-installed-here"
    app = app_with_cli(box, configured)
    with served(app, box) as server:
        assert [tool.name for tool in server.tools()] == ["proxy_request"]
        message = failed(server, *PROXY_GET)
        assert "was not found" in message and configured in message
        assert "npm install -g @membranehq/cli" in message and "MEMBRANE_BIN" in message and "PATH" in message
        message = failed(server, *LIST)
        assert "list_contacts is not available" in message and "MEMBRANE_BIN" in message
        if where == "absolute":
            shell_cli(program)
            program.chmod(0o755)
            assert works(server, *PROXY_GET)["contacts"]
            assert "list_contacts" in {tool.name for tool in server.tools()}
            assert works(server, *LIST)["records"]


def test_binary_that_is_not_executable_says_chmod(tmp_path: Path, box: Sandbox):
    program = tmp_path / "bin" / "membrane"
    shell_cli(program)
    program.chmod(0o644)
    assert not os.access(program, os.X_OK)
    with served(app_with_cli(box, str(program)), box) as server:
        message = failed(server, *PROXY_GET)
        assert "could not be started" in message and "permission denied" in message
        assert "chmod +x" in message and "MEMBRANE_BIN" in message
        program.chmod(0o755)
        assert works(server, *PROXY_GET)["contacts"]


def test_node_missing_from_path_says_node_and_path(tmp_path: Path, box: Sandbox):
    program = tmp_path / "bin" / "membrane"
    node_cli(program)
    app = app_with_cli(box, str(program))
    assert app.membrane.runner.env is not None
    app.membrane.runner.env["PATH"] = str(tmp_path / "empty")
    with served(app, box) as server:
        message = failed(server, *PROXY_GET)
        assert "found but `node` was not" in message and "No such file" in message
        assert "PATH" in message and "MEMBRANE_BIN" in message and "which node" in message
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed: the recovery half needs it")
        app.membrane.runner.env["PATH"] = os.path.dirname(node)
        assert works(server, *PROXY_GET)["contacts"]
        assert works(server, *LIST)["records"]


# --- Membrane states ------------------------------------------------------------------------------------

STATE_FIX_AT_RUN = {
    "logged_out": ("not logged in", "membrane login --tenant"),
    "no_connection": ("connection was not found", "membrane connection list --json"),
    "needs_reconnect": ("re-authorized", f"membrane connect --connectionId={CONNECTION}"),
    "defunct": ("no longer works", f"membrane connect --connectionId={CONNECTION}"),
}


@pytest.mark.parametrize("state", sorted(STATE_FIX_AT_RUN))
def test_state_going_bad_while_serving_says_the_fix(server: Served, box: Sandbox, state: str):
    works(server, *LIST)
    box.set(state=state)
    phrase, fix = STATE_FIX_AT_RUN[state]
    for name, arguments in (LIST, PROXY_GET, ("create_contact", {"email": "state@example.org"})):
        message = failed(server, name, arguments)
        assert phrase in message.lower() and fix in message, message
    box.clear()
    assert works(server, *LIST)["records"]
    assert works(server, *PROXY_GET)["contacts"]


STATE_FIX_AT_START = {
    "logged_out": "membrane login --tenant",
    "no_connection": "membrane connect --connectorId=",
    "needs_reconnect": f"membrane connect --connectionId={CONNECTION}",
    "defunct": f"membrane connect --connectionId={CONNECTION}",
}


@pytest.mark.parametrize("state", sorted(STATE_FIX_AT_START))
def test_state_bad_at_start_says_the_fix_and_proxy_recovers(box: Sandbox, state: str):
    box.set(state=state)
    with served(app_on(box), box) as server:
        assert [tool.name for tool in server.tools()] == ["proxy_request"]
        assert STATE_FIX_AT_START[state] in failed(server, *PROXY_GET)
        assert STATE_FIX_AT_START[state] in failed(server, *LIST)
        box.clear()
        assert works(server, *PROXY_GET)["contacts"]
        assert "list_contacts" in {tool.name for tool in server.tools()}


def test_state_fixed_after_start_lets_the_next_action_call_work(box: Sandbox):
    box.set(state="logged_out")
    with served(app_on(box), box) as server:
        failed(server, *LIST)
        box.clear()
        assert works(server, *LIST)["records"]


# --- fault knobs ------------------------------------------------------------------------------------------


def test_rate_limited_says_how_long_to_wait(server: Served, box: Sandbox):
    box.set(fault="rate_limited", fault_on="action run,request")
    for call in (LIST, PROXY_GET):
        message = failed(server, *call)
        assert "rate limiting" in message and "Wait 30 seconds" in message
    message = failed(server, "create_contact", {"email": "limited@example.org"})
    assert "The change was not made" in message
    box.clear()
    works(server, *LIST)


def test_garbage_output_is_quoted_and_points_at_the_cli(server: Served, box: Sandbox):
    box.set(fault="garbage", fault_on="action run")
    message = failed(server, *LIST)
    assert "not JSON" in message and "502 Bad Gateway" in message
    assert "MEMBRANE_BIN" in message and "npm install -g @membranehq/cli" in message
    assert len(message) < 1_500, "the quote of the output is trimmed"
    box.clear()
    works(server, *LIST)


def test_garbage_from_request_is_passed_on_as_text(server: Served, box: Sandbox):
    """`membrane request` prints the API's body as is, so a non-JSON body is a text result, not a failure."""
    box.set(fault="garbage", fault_on="request")
    result = server.call(*PROXY_GET)
    assert not result.is_error and "502 Bad Gateway" in text(result)
    box.clear()
    works(server, *PROXY_GET)


@pytest.mark.parametrize("call", [LIST, PROXY_GET], ids=["action", "proxy"])
@pytest.mark.parametrize("limit", [60_000, 5_000])
def test_huge_output_is_cut_with_a_note(box: Sandbox, call: tuple[str, dict[str, Any]], limit: int):
    with served(app_on(box, max_result_chars=limit), box) as server:
        box.set(fault="huge:3000000", fault_on="action run,request")
        result = server.call(*call)
        shown = text(result)
        assert not result.is_error, shown[:300]
        assert len(shown) <= limit, len(shown)
        body = json.loads(shown)
        assert body["note"] and (body.get("next") or "lower limit" in body["note"]), body["note"]
        assert result.structured_content is None, "the JSON is sent once, as text"
        box.clear()
        works(server, *call)


@pytest.mark.parametrize("call", [LIST, PROXY_GET], ids=["action", "proxy"])
def test_hang_times_out_kills_everything_and_says_so(box: Sandbox, call: tuple[str, dict[str, Any]]):
    with served(app_on(box, timeout=1), box) as server:
        box.set(fault="hang", fault_on="action run,request")
        message = failed(server, *call)
        assert "no answer within 1 seconds" in message and "MAUTIC_MCP_TIMEOUT" in message
        assert "unknown whether" not in message, "a read changes nothing"
        hung = [entry for entry in box.invocations() if "grandchild" in entry]
        assert len(hung) == 1
        wait_all_gone(hung)
        box.clear()
        works(server, *call)


def test_crash_by_signal_is_named(server: Served, box: Sandbox):
    box.set(fault="crash", fault_on="action run,request")
    for call in (LIST, PROXY_GET):
        message = failed(server, *call)
        assert "killed by SIGKILL" in message and "Try again" in message
    box.clear()
    works(server, *LIST)


def test_stderr_noise_does_not_spoil_a_good_answer(server: Served, box: Sandbox):
    box.set(fault="stderr_noise", fault_on="action run,request")
    assert len(works(server, *LIST)["records"]) == 2
    assert works(server, *PROXY_GET)["contacts"]
    created = works(server, "create_company", {"name": "Noisy Ltd"})
    assert created["name"] == "Noisy Ltd"


@pytest.mark.parametrize("fault", ["garbage", "crash", "rate_limited"])
def test_faults_during_start_up_leave_a_working_proxy(box: Sandbox, fault: str):
    box.set(fault=fault)
    with served(app_on(box), box) as server:
        assert [tool.name for tool in server.tools()] == ["proxy_request"]
        message = failed(server, *PROXY_GET)
        assert {"garbage": "not JSON", "crash": "SIGKILL", "rate_limited": "Wait 30 seconds"}[fault] in message
        box.clear()
        assert works(server, *PROXY_GET)["contacts"]
        assert "list_contacts" in {tool.name for tool in server.tools()}
