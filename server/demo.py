"""`mautic-mcp demo`: a real MCP client session against this server on the sandbox, to see it work."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from mcp import Client, StdioServerParameters

PASS_THROUGH = ("HOME", "PATH", "USERPROFILE", "APPDATA", "LOCALAPPDATA")
PASS_THROUGH_PREFIXES = ("MEMBRANE_SANDBOX_", "XDG_", "WIN_PD_OVERRIDE_")
"""What the server and its sandbox read to find their data: the sandbox's own variables, and the ones
platformdirs reads for the user data folder (HOME and XDG_* on Linux and macOS, the known folders on
Windows). Nothing else passes, so the server's own settings (MAUTIC_MCP_*, MEMBRANE_BIN) cannot turn
the demo away from the sandbox."""


def demo_env(environ: Mapping[str, str], log_level: str | None = None) -> dict[str, str]:
    """The environment the demo's server runs with: the same sandbox data `membrane-sandbox` uses here."""
    env = {
        name: value for name, value in environ.items() if name in PASS_THROUGH or name.startswith(PASS_THROUGH_PREFIXES)
    }
    env["MAUTIC_MCP_LOG_LEVEL"] = log_level or "WARNING"
    return env


async def run_demo(log_level: str | None = None) -> int:
    """Start `mautic-mcp --sandbox` over stdio, list its tools, call two of them, print what came back."""
    command = server_command()
    server = StdioServerParameters(
        command=command[0], args=[*command[1:], "--sandbox"], env=demo_env(os.environ, log_level)
    )
    async with Client(server) as client:
        listed = await client.list_tools()
        print(f"Connected to {client.server_info.name if client.server_info else 'the server'} (sandbox data).")
        print(f"{len(listed.tools)} tools: " + ", ".join(tool.name for tool in listed.tools))
        for name, arguments in (
            ("list_contacts", {"limit": 3}),
            ("proxy_request", {"method": "GET", "path": "/api/segments", "query": {"limit": 2}}),
        ):
            result = await client.call_tool(name, arguments)
            text = result.content[0].text if result.content and result.content[0].type == "text" else ""
            status = "error" if result.is_error else "ok"
            print(f"\n$ {name} {json.dumps(arguments)}  [{status}]\n{_preview(text)}")
    print("\nThe sandbox is a local stand-in for Mautic; see the README to connect a real one.")
    return 0


def server_command() -> list[str]:
    """The installed `mautic-mcp` beside this interpreter, else this interpreter with `-P` (no working
    directory on sys.path, so a `server/` folder where the demo runs is never what starts)."""
    installed = Path(sys.executable).with_name("mautic-mcp")
    if installed.is_file() and os.access(installed, os.X_OK):
        return [str(installed)]
    return [sys.executable, "-P", "-m", "mautic_mcp.server"]


def _preview(text: str, limit: int = 1200) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"
