"""`mautic-mcp doctor`, `tools` and `demo` as a user runs them, against every sandbox state."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support import Sandbox, mautic_mcp

CHECKS = ["Membrane CLI", "Logged in", "Mautic connection", "Action discovery", "Discovery cache", "Read-only call"]


def test_doctor_passes_on_a_working_setup(sandbox: Sandbox):
    done = mautic_mcp("doctor", "--sandbox")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:6]] == [f"✓ {name}" for name in CHECKS]
    assert "contacts:" in lines[3] and "list_contacts answered" in lines[5]


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
    """Nine intents that failed alike are one sentence, and no log line repeats it."""
    sandbox.set(fault="crash", fault_on="action list")
    done = mautic_mcp("doctor", "--sandbox", "--json")
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1
    assert checks["Mautic connection"]["ok"] is True and checks["Action discovery"]["ok"] is False
    detail = checks["Action discovery"]["detail"]
    assert "all 9 intents" in detail and detail.count("killed by") == 1, detail
    assert checks["Action discovery"]["fix"]
    assert "WARNING" not in done.stderr, done.stderr


def test_doctor_with_a_connection_id_membrane_does_not_list(sandbox: Sandbox):
    """A configured id that is not in `connection list` is not READY: it was not found, and the ids are named."""
    done = mautic_mcp("doctor", "--sandbox", "--connection-id", "nope")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[2].startswith("✗ Mautic connection: The connection nope set by --connection-id"), done.stdout
    assert "was not found" in lines[2] and "66a1f0c2b7e4d5a6c3b2a100 (Mautic, READY)" in lines[2]
    assert "fix: Set --connection-id / MAUTIC_MCP_CONNECTION_ID to one of these ids" in lines[3]
    assert lines[4:7] == [
        "- Action discovery: skipped: fix the check above first",
        "- Discovery cache: skipped: fix the check above first",
        "- Read-only call: skipped: fix the check above first",
    ]
    assert done.stderr == "", done.stderr
    assert not any("action" in argv for argv in sandbox.commands()), "nothing ran against a connection not found"

    by_key = mautic_mcp("doctor", "--sandbox", "--json", "--connection-id", "66a1f0c2b7e4d5a6c3b2a100")
    assert json.loads(by_key.stdout)["ok"] is True, by_key.stdout


def test_tools_says_a_discovery_failure_once(sandbox: Sandbox):
    done = mautic_mcp("tools", "--sandbox", "--connection-id", "nope")
    assert done.returncode == 1
    assert "proxy_request" in done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mautic-mcp: discovery failed for all 9 intents: "), done.stderr


def fake_cli(folder: Path, name: str, script: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("script", "failing", "said"),
    [
        # /bin/echo: `--version` says "echo (GNU coreutils) 9.1", which reads as a version; `status --json` does
        # not answer JSON.
        ('if [ "$1" = --version ]; then echo "echo (GNU coreutils) 9.1"; else echo "$@"; fi\n', 0, "JSON"),
        # A proxy's error page where the CLI's answer should be.
        (
            "printf '<html>\\n<head><title>502 Bad Gateway</title></head>\\n<center>nginx/1.18.0</center>\\n'\n",
            0,
            "no version",
        ),
        # It prints nothing at all.
        ("exit 0\n", 0, "no version"),
    ],
)
def test_doctor_fails_what_it_could_not_verify(tmp_path: Path, script: str, failing: int, said: str):
    done = mautic_mcp("doctor", "--membrane-bin", fake_cli(tmp_path, "membrane", script), "--json")
    assert done.returncode == 1
    checks = json.loads(done.stdout)["checks"]
    assert checks[failing]["ok"] is False and said in checks[failing]["detail"], checks[failing]
    assert "MEMBRANE_BIN" in checks[failing]["fix"] and "npm install -g @membranehq/cli" in checks[failing]["fix"]
    assert all(check["ok"] is None for check in checks[failing + 1 :])


@pytest.mark.skipif(not Path("/bin/echo").is_file(), reason="no /bin/echo")
def test_doctor_does_not_take_bin_echo_for_the_membrane_cli():
    done = mautic_mcp("doctor", "--membrane-bin", "/bin/echo")
    assert done.returncode == 1
    assert done.stdout.startswith("✗ Membrane CLI: /bin/echo does not answer `status --json` with JSON"), done.stdout


def test_doctor_waits_for_a_hung_cli_once(sandbox: Sandbox):
    """A CLI that never answers costs one timeout, not one per check: the rest are skipped."""
    sandbox.set(fault="hang")
    started = time.monotonic()
    done = mautic_mcp("doctor", "--sandbox", "--json", "--timeout", "2")
    elapsed = time.monotonic() - started
    checks = json.loads(done.stdout)["checks"]
    assert done.returncode == 1
    assert checks[0]["ok"] is False and "no answer within 2 seconds" in checks[0]["detail"]
    assert "--version" in checks[0]["fix"] and "MAUTIC_MCP_TIMEOUT" in checks[0]["fix"]
    assert all(check["ok"] is None and "no answer within 2 s" in check["detail"] for check in checks[1:])
    assert [entry["argv"] for entry in sandbox.invocations() if "start" in entry] == [["--version"]]
    assert elapsed < 2 * 2 + 3, f"doctor took {elapsed:.1f} s"
    assert done.stderr == "", done.stderr


def test_doctor_stops_after_a_timeout_in_a_later_check(sandbox: Sandbox):
    sandbox.set(fault="hang", fault_on="action run")
    done = mautic_mcp("doctor", "--sandbox", "--json", "--timeout", "2")
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert [checks[name]["ok"] for name in CHECKS] == [True, True, True, True, True, False]
    assert "action run" in checks["Read-only call"]["fix"]


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


def test_doctor_brings_the_discovery_cache_up_to_date(sandbox: Sandbox, tmp_path: Path):
    cache = tmp_path / "cache"
    first = mautic_mcp("doctor", "--sandbox", "--cache-dir", str(cache))
    assert first.returncode == 0, first.stdout
    said = first.stdout.splitlines()[4]
    assert said.startswith("✓ Discovery cache: ") and "had no entry for these settings; updated" in said
    [entry] = cache.glob("discovery-*.json")
    assert entry.name in said
    again = mautic_mcp("doctor", "--sandbox", "--cache-dir", str(cache)).stdout.splitlines()[4]
    assert "matches what was just discovered" in again
    entry.write_text(entry.read_text().replace("list-contacts", "list-contacts-old"))
    stale = mautic_mcp("doctor", "--sandbox", "--cache-dir", str(cache)).stdout.splitlines()[4]
    assert "held an older discovery; updated" in stale
    assert "list-contacts-old" not in entry.read_text()
    off = mautic_mcp("doctor", "--sandbox", "--no-cache").stdout.splitlines()[4]
    assert off == "✓ Discovery cache: off (--no-cache / MAUTIC_MCP_NO_CACHE): every start discovers afresh"


def test_a_warm_start_after_doctor_serves_what_doctor_found(sandbox: Sandbox, tmp_path: Path):
    """What doctor writes is the entry the server reads: the tools table comes from it without discovery."""
    cache = tmp_path / "cache"
    assert mautic_mcp("doctor", "--sandbox", "--cache-dir", str(cache)).returncode == 0
    entry = next(cache.glob("discovery-*.json"))
    document = json.loads(entry.read_text())
    assert document["connection_id"] == "66a1f0c2b7e4d5a6c3b2a100"
    assert sum(len(page) for page in document["pages"].values()) >= 38
