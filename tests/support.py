"""Test support: a sandbox per test, and a server on it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mcp.types import CallToolResult

from mautic_mcp.server.config import build_settings
from mautic_mcp.server.server import MauticServer
from mautic_mcp.tools.actions import ActionTool

BENCH = Path(__file__).resolve().parents[1] / "bench"
ERAS = {"2026-07-28": "auto", "2025-11-25": "legacy"}
"""Protocol version → the `Client` mode that negotiates it."""


@dataclass
class Sandbox:
    """Paths of one test's sandbox, and the knobs it reads at every CLI invocation."""

    db: Path
    knobs: Path
    log: Path
    cache: Path | None = None
    """The test's own discovery cache folder, passed on to every server the test starts (by default beside
    the knobs): a server started with this environment never reads or writes the user's cache."""

    def __post_init__(self) -> None:
        if self.cache is None:
            self.cache = self.knobs.parent / "cache" / "mautic-mcp"

    @property
    def env(self) -> dict[str, str]:
        env = {
            "MEMBRANE_SANDBOX_DB": str(self.db),
            "MEMBRANE_SANDBOX_KNOBS": str(self.knobs),
            "MEMBRANE_SANDBOX_LOG": str(self.log),
        }
        if self.cache is not None:
            env["MAUTIC_MCP_CACHE_DIR"] = str(self.cache)
        return env

    def set(self, **knobs: Any) -> None:
        self.knobs.write_text(json.dumps(knobs))

    def clear(self) -> None:
        self.knobs.unlink(missing_ok=True)

    def invocations(self) -> list[dict[str, Any]]:
        return read_jsonl(self.log)

    def commands(self) -> list[list[str]]:
        return [entry["argv"] for entry in self.invocations() if "end" in entry or "exit" in entry]

    def cli(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "mautic_mcp.sandbox", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a log written a line each (blank lines skipped); none while it does not exist."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def text(result: CallToolResult) -> str:
    """The text of a tool result: its text blocks joined, any other block contributing nothing."""
    return "".join(getattr(block, "text", "") for block in result.content)


def mautic_mcp_argv(*args: str) -> list[str]:
    """The installed `mautic-mcp` with `args`, or the same program through `python -m mautic_mcp.server`."""
    command = shutil.which("mautic-mcp")
    return [command, *args] if command else [sys.executable, "-m", "mautic_mcp.server", *args]


def stdio_env(box: Sandbox, **env: str) -> dict[str, str]:
    """The environment of a stdio server on `box`: PATH and PYTHONPATH passed through (so a checkout can be
    tested), the sandbox's variables, log level WARNING, then `env` over them."""
    passed = {name: os.environ[name] for name in ("PATH", "PYTHONPATH") if name in os.environ}
    return {**passed, **box.env, "MAUTIC_MCP_LOG_LEVEL": "WARNING", **env}


def mautic_mcp(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed `mautic-mcp` with `args` to the end, stdin empty, output captured as text."""
    return subprocess.run(
        mautic_mcp_argv(*args),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def mautic_mcp_argv_with(constants: Mapping[str, float], *args: str) -> list[str]:
    """`mautic-mcp` with `args`, started with some constants of `mautic_mcp.server.setup` or `.server` replaced
    first.

    For intervals a test cannot wait for: `{"PROGRESS_INTERVAL_SECONDS": 0.25}`.
    """
    assignments = "".join(
        f"assert hasattr(setup, {name!r}) or hasattr(server, {name!r}), {name!r}; "
        f"setattr(setup if hasattr(setup, {name!r}) else server, {name!r}, {value!r}); "
        for name, value in constants.items()
    )
    script = (
        "import sys; import mautic_mcp.server.server as server; import mautic_mcp.server.setup as setup; "
        f"{assignments}from mautic_mcp.server.cli import main; sys.exit(main({list(args)!r}))"
    )
    return [sys.executable, "-P", "-c", script]


def bench_module(name: str) -> ModuleType:
    """bench/<name>.py, loaded afresh as the module `bench_<name>`, with bench/ on sys.path as when the script is
    run: its imports of the other bench modules resolve, and its dataclasses find their module."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def sandbox_app(**flags: Any) -> MauticServer:
    """A server on the sandbox CLI with the given settings (flags as on the command line).

    Without the discovery cache unless `cache_dir` is given: each such server starts cold.
    """
    defaults = {} if "cache_dir" in flags else {"no_cache": True}
    return MauticServer(build_settings({"sandbox": True, **defaults, **flags}, env={}))


def action_tools(app: MauticServer) -> dict[str, ActionTool]:
    """The server's action tools by name (every tool but `proxy_request`)."""
    return {tool.name: tool for tool in app.registry if isinstance(tool, ActionTool)}


# --- processes, as /proc shows them ---


def process_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    fields = process_stat(pid)
    return fields is not None and fields[0] != "Z"


def live_processes() -> dict[int, list[str]]:
    """pid -> the fields of /proc/<pid>/stat after the command name, for every process not a zombie."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = process_stat(int(entry))
            if fields is not None and fields[0] != "Z":
                found[int(entry)] = fields
    return found


def survivors(entries: list[Mapping[str, Any]]) -> list[str]:
    """What is still alive of the logged CLI processes: their pids, grandchildren and process groups."""
    pids = {int(e["pid"]) for e in entries} | {int(e["grandchild"]) for e in entries if "grandchild" in e}
    pgids = {int(e["pgid"]) for e in entries if e.get("pgid")}
    left = []
    for pid, fields in live_processes().items():
        if pid in pids:
            left.append(f"pid {pid} ({cmdline(pid)[:80]})")
        elif int(fields[2]) in pgids:
            left.append(f"pid {pid} in group {fields[2]} ({cmdline(pid)[:80]})")
    return left


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""
