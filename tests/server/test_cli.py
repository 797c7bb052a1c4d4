"""`mautic-mcp` at its edges: bad settings, a reader that goes away, the demo's flags and its sandbox data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mautic_mcp.server.cli import parser
from mautic_mcp.server.config import ConfigError, build_settings
from mautic_mcp.server.demo import demo_env
from tests.support import Sandbox, mautic_mcp, mautic_mcp_argv

# --- the log level is a setting like the others ---


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("tools", "--sandbox"), {"MAUTIC_MCP_LOG_LEVEL": "verbose"}),
        (("doctor", "--log-level", "loud"), {}),
        (("--log-level", "5"), {}),
    ],
)
def test_a_bad_log_level_exits_2_with_one_line(args: tuple[str, ...], env: dict[str, str]) -> None:
    done = mautic_mcp(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--log-level / MAUTIC_MCP_LOG_LEVEL" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_log_level_accepts_any_case_and_a_flag_wins_over_the_environment() -> None:
    assert build_settings({}, env={"MAUTIC_MCP_LOG_LEVEL": " debug "}).log_level == "DEBUG"
    assert build_settings({"log_level": "error"}, env={"MAUTIC_MCP_LOG_LEVEL": "debug"}).log_level == "ERROR"
    assert build_settings({}, env={}).log_level is None
    with pytest.raises(ConfigError, match="MAUTIC_MCP_LOG_LEVEL"):
        build_settings({}, env={"MAUTIC_MCP_LOG_LEVEL": "verbose"})


def test_tools_logs_warnings_only_unless_a_level_is_asked_for(sandbox: Sandbox) -> None:
    quiet = mautic_mcp("tools", "--sandbox")
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr, quiet.stderr
    chatty = mautic_mcp("tools", "--sandbox", env={"MAUTIC_MCP_LOG_LEVEL": "info"})
    assert chatty.returncode == 0 and " INFO " in chatty.stderr, chatty.stderr


# --- a reader that goes away: no traceback ---


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("tools", "--sandbox"), 1),
        (("demo",), 1),  # it prints inside the client session's task group
        (("--help",), 0),  # argparse ignores a failed write of its own messages
    ],
)
def test_a_closed_stdout_ends_the_command_quietly(sandbox: Sandbox, args: tuple[str, ...], status: int) -> None:
    """`mautic-mcp tools | head -n 1`, made certain: the reading end is closed before anything is written.

    Exit 1, as the Python docs' recipe for EPIPE has it, and nothing on stderr about it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            mautic_mcp_argv(*args),
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


# --- the demo ---


def test_demo_takes_the_sandbox_flag_its_usage_line_shows(sandbox: Sandbox) -> None:
    assert "--sandbox" in parser().format_usage()
    done = mautic_mcp("demo", "--sandbox")
    assert done.returncode == 0, done.stderr
    assert "tools: list_contacts" in done.stdout and "[ok]" in done.stdout


def test_demo_passes_on_what_the_sandbox_reads_for_its_paths_and_no_settings() -> None:
    environ = {
        "HOME": "/home/me",
        "PATH": "/usr/bin",
        "XDG_DATA_HOME": "/data",
        "MEMBRANE_SANDBOX_DB": "/tmp/s.db",
        "MEMBRANE_SANDBOX_KNOBS": "/tmp/k.json",
        "MEMBRANE_SANDBOX_LOG": "/tmp/l.jsonl",
        "MEMBRANE_BIN": "/usr/local/bin/membrane",
        "MAUTIC_MCP_CONNECTION_ID": "real-one",
        "MAUTIC_MCP_READ_ONLY": "1",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    env = demo_env(environ)
    assert env == {
        "HOME": "/home/me",
        "PATH": "/usr/bin",
        "XDG_DATA_HOME": "/data",
        "MEMBRANE_SANDBOX_DB": "/tmp/s.db",
        "MEMBRANE_SANDBOX_KNOBS": "/tmp/k.json",
        "MEMBRANE_SANDBOX_LOG": "/tmp/l.jsonl",
        "MAUTIC_MCP_LOG_LEVEL": "WARNING",
    }
    assert demo_env(environ, "DEBUG")["MAUTIC_MCP_LOG_LEVEL"] == "DEBUG"


def test_demo_uses_the_sandbox_database_membrane_sandbox_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With XDG_DATA_HOME set and no MEMBRANE_SANDBOX_DB, the demo's data is where `membrane-sandbox` keeps it."""
    for name in list(os.environ):
        if name.startswith(("MEMBRANE_SANDBOX_", "MAUTIC_MCP_", "XDG_")):
            monkeypatch.delenv(name)
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": str(data)}
    done = mautic_mcp("demo", env=env)
    assert done.returncode == 0, done.stderr
    expected = data / "mautic-mcp-sandbox" / "sandbox.db"
    assert expected.is_file(), sorted(str(path) for path in tmp_path.rglob("*.db"))
    assert not (home / ".local" / "share" / "mautic-mcp-sandbox").exists()


# --- a command loads only what it uses ---

LOADED = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
    "from mautic_mcp.server.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-P", "-c", LOADED, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def sdk(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "mcp" or m.startswith("mcp.")}


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("tools", "--help")])
def test_version_and_help_load_no_settings_model_event_loop_or_sdk(args: tuple[str, ...]) -> None:
    modules = loaded(*args)
    assert not {"pydantic", "anyio", "mcp_types", "jsonschema"} & modules
    assert not sdk(modules)


@pytest.mark.parametrize("command", ["tools", "doctor"])
def test_tools_and_doctor_use_the_wire_types_without_the_sdk(sandbox: Sandbox, command: str) -> None:
    modules = loaded(command, "--sandbox")
    assert "mcp_types" in modules and "mautic_mcp.tools.registry" in modules, "they did build the tools"
    assert not sdk(modules), sorted(sdk(modules))[:10]


def test_serving_loads_the_sdk(sandbox: Sandbox) -> None:
    """The check above could pass by never looking: serving, the same probe sees the SDK."""
    assert "mcp.server" in loaded("--sandbox")
