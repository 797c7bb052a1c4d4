"""`mautic-mcp doctor`, `tools` and `demo` as a user runs them, against every sandbox state."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import Sandbox, mautic_mcp_argv

CHECKS = ["Membrane CLI", "Logged in", "Mautic connection", "Action discovery", "Read-only call"]


def mautic_mcp(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        mautic_mcp_argv(*args),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_doctor_passes_on_a_working_setup(sandbox: Sandbox):
    done = mautic_mcp("doctor", "--sandbox")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [f"✓ {name}" for name in CHECKS]
    assert "contacts:" in lines[3] and "list_contacts answered" in lines[4]


@pytest.mark.parametrize(
    ("state", "failing", "fix"),
    [
        ("logged_out", "Logged in", "membrane login --tenant"),
        ("no_connection", "Mautic connection", "membrane connect --connectorId="),
        ("needs_reconnect", "Mautic connection", "membrane connect --connectionId="),
        ("defunct", "Mautic connection", "membrane connect --connectionId="),
    ],
)
def test_doctor_names_the_failing_check_and_its_fix(sandbox: Sandbox, state: str, failing: str, fix: str):
    done = mautic_mcp("doctor", "--sandbox", "--json", env={"MEMBRANE_SANDBOX_STATE": state})
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    by_name = {check["name"]: check for check in report["checks"]}
    assert [check["name"] for check in report["checks"]] == CHECKS
    assert by_name[failing]["ok"] is False and fix in by_name[failing]["fix"]
    after = CHECKS[CHECKS.index(failing) + 1 :]
    assert all(by_name[name]["ok"] is None for name in after)
    text = mautic_mcp("doctor", "--sandbox", env={"MEMBRANE_SANDBOX_STATE": state})
    assert f"✗ {failing}" in text.stdout and "fix: " in text.stdout and fix in text.stdout


def test_doctor_without_the_cli(tmp_path: Path):
    done = mautic_mcp("doctor", "--membrane-bin", str(tmp_path / "membrane"), "--json")
    assert done.returncode == 1
    first = json.loads(done.stdout)["checks"][0]
    assert first["ok"] is False and "MEMBRANE_BIN" in first["fix"]


def test_doctor_when_discovery_finds_nothing(sandbox: Sandbox):
    sandbox.set(fault="crash", fault_on="action list")
    done = mautic_mcp("doctor", "--sandbox", "--json")
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1
    assert checks["Mautic connection"]["ok"] is True and checks["Action discovery"]["ok"] is False


def test_doctor_when_the_read_call_fails(sandbox: Sandbox):
    sandbox.set(fault="rate_limited", fault_on="action run")
    done = mautic_mcp("doctor", "--sandbox", "--json")
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1
    assert checks["Action discovery"]["ok"] is True
    assert checks["Read-only call"]["ok"] is False and "Wait" in checks["Read-only call"]["fix"]


def test_tools_table_and_json(sandbox: Sandbox):
    table = mautic_mcp("tools", "--sandbox")
    assert table.returncode == 0
    rows = {line.split()[0]: line.split()[1:] for line in table.stdout.splitlines()[1:-1]}
    assert rows["list_contacts"][0] == "read" and rows["delete_contact"][0] == "delete"
    assert rows["create_contact"] == ["add", "email"] and rows["update_contact"][0] == "update"
    payload = json.loads(mautic_mcp("tools", "--sandbox", "--json").stdout)
    names = [tool["name"] for tool in payload["tools"]]
    assert set(names) == set(rows) and "inputSchema" in payload["tools"][0]
    read_only = json.loads(mautic_mcp("tools", "--sandbox", "--json", "--read-only").stdout)
    assert all(t["annotations"]["readOnlyHint"] for t in read_only["tools"] if t["name"] != "proxy_request")
    assert len(read_only["tools"]) < len(names)


def test_tools_is_identical_across_starts(sandbox: Sandbox):
    first = mautic_mcp("tools", "--sandbox", "--json").stdout
    second = mautic_mcp("tools", "--sandbox", "--json").stdout
    assert first == second and json.loads(first)["tools"]


def test_tools_with_a_broken_setup_still_shows_proxy_request(sandbox: Sandbox):
    done = mautic_mcp("tools", "--sandbox", env={"MEMBRANE_SANDBOX_STATE": "logged_out"})
    assert done.returncode == 1
    assert "proxy_request" in done.stdout and "membrane login --tenant" in done.stderr


def test_demo_lists_and_calls(sandbox: Sandbox):
    done = mautic_mcp("demo")
    assert done.returncode == 0, done.stderr
    assert "tools: list_contacts" in done.stdout and "[ok]" in done.stdout and "[error]" not in done.stdout


def test_mcp_json_example_entries_start(sandbox: Sandbox):
    """The sandbox entry of mcp.json.example, with its command resolved here, serves tools."""
    config = json.loads((Path(__file__).parents[2] / "mcp.json.example").read_text())
    servers = config["mcpServers"]
    assert set(servers) == {"mautic", "mautic-sandbox"}
    assert servers["mautic"]["env"]["MEMBRANE_BIN"]
    done = mautic_mcp("tools", *servers["mautic-sandbox"]["args"], "--json")
    assert done.returncode == 0 and "list_contacts" in done.stdout


def test_settings_before_the_subcommand_are_kept(sandbox: Sandbox):
    done = mautic_mcp("--sandbox", "--read-only", "tools", "--json")
    assert done.returncode == 0, done.stderr
    names = {tool["name"] for tool in json.loads(done.stdout)["tools"]}
    assert "list_contacts" in names and "create_contact" not in names


def test_intents_that_find_nothing_are_named_with_what_to_do(sandbox: Sandbox):
    broader = "Name broader intents with --intent / MAUTIC_MCP_INTENTS"
    done = mautic_mcp("doctor", "--sandbox", "--json", "--intent", "contacts", "--intent", "zzzz-nothing")
    discovery = {check["name"]: check for check in json.loads(done.stdout)["checks"]}["Action discovery"]
    assert done.returncode == 0 and discovery["ok"] is True
    assert "zzzz-nothing: 0" in discovery["detail"] and "intent 'zzzz-nothing' found no actions" in discovery["detail"]
    assert broader in discovery["detail"]

    nothing = mautic_mcp("doctor", "--sandbox", "--json", "--intent", "zzzz-nothing")
    discovery = {check["name"]: check for check in json.loads(nothing.stdout)["checks"]}["Action discovery"]
    assert nothing.returncode == 1 and discovery["ok"] is False
    assert "intent 'zzzz-nothing' found no actions" in discovery["detail"] and broader in discovery["fix"]

    tools = mautic_mcp("tools", "--sandbox", "--intent", "contacts", "--intent", "zzzz-nothing")
    assert tools.returncode == 0 and "list_contacts" in tools.stdout
    assert tools.stderr.splitlines() == [
        "mautic-mcp: intent 'zzzz-nothing' found no actions. Name broader intents with --intent / "
        "MAUTIC_MCP_INTENTS, e.g. one Mautic area each (contacts, companies, segments)"
    ]
