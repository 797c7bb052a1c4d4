"""`mautic-mcp doctor` and `mautic-mcp tools`: the set-up, checked and shown before a client uses it."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from mcp.types import ListToolsResult

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.connection import resolve_connection
from mautic_mcp.membrane.discovery import discover
from mautic_mcp.membrane.errors import LOGIN_COMMAND, ErrorCode, MembraneError
from mautic_mcp.server.config import Settings
from mautic_mcp.server.server import (
    BROADER_INTENTS,
    MauticServer,
    empty_intents_warning,
    found_nothing,
    membrane_for,
)
from mautic_mcp.server.server import log as server_log
from mautic_mcp.tools.registry import ToolRegistry, build_registry
from mautic_mcp.tools.tool import Kind, ServerTool


@dataclass
class Check:
    name: str
    ok: bool | None
    detail: str
    fix: str = ""


class Doctor:
    """Runs the checks in order; a failed check skips the ones that depend on it."""

    def __init__(self, settings: Settings, membrane: Membrane | None = None) -> None:
        self.settings = settings
        self.membrane = membrane or membrane_for(settings)
        self.checks: list[Check] = []
        self.connection_id: str | None = None
        self.registry: ToolRegistry | None = None

    async def run(self) -> list[Check]:
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("Membrane CLI", self._cli),
            ("Logged in", self._logged_in),
            ("Mautic connection", self._connection),
            ("Action discovery", self._discovery),
            ("Read-only call", self._read_call),
        ]
        failed = False
        for name, step in steps:
            if failed:
                self.checks.append(Check(name, None, "skipped: fix the check above first"))
                continue
            try:
                self.checks.append(Check(name, True, await step()))
            except MembraneError as error:
                self.checks.append(Check(name, False, error.what, error.fix))
                failed = True
        return self.checks

    async def _cli(self) -> str:
        try:
            version = await self.membrane.version()
        except MembraneError as error:
            if error.code in {ErrorCode.CLI_NOT_FOUND, ErrorCode.NODE_NOT_FOUND, ErrorCode.CLI_NOT_RUNNABLE}:
                raise
            version = "version unknown"
        return f"{' '.join(self.membrane.runner.command)} ({version})"

    async def _logged_in(self) -> str:
        try:
            status = await self.membrane.status()
        except MembraneError as error:
            if error.code is not ErrorCode.NOT_LOGGED_IN:
                return "status unknown; the connection check below tells"
            raise
        if isinstance(status, dict):
            flag = next((status[k] for k in ("loggedIn", "authenticated", "isLoggedIn") if k in status), None)
            if flag is False:
                raise MembraneError(
                    ErrorCode.NOT_LOGGED_IN,
                    "The Membrane CLI is not logged in.",
                    f"Run `{LOGIN_COMMAND}`, then try again.",
                )
            workspace = status.get("workspace")
            if isinstance(workspace, dict) and (workspace.get("name") or workspace.get("key")):
                return f"workspace {workspace.get('name') or workspace.get('key')}"
        return "yes"

    async def _connection(self) -> str:
        self.connection_id = await resolve_connection(self.membrane, self.settings.connection_id)
        return f"{self.connection_id} is READY"

    async def _discovery(self) -> str:
        assert self.connection_id is not None
        found = await discover(self.membrane, self.connection_id, self.settings.intents, self.settings.limit)
        self.registry = build_registry(found.actions, read_only=self.settings.read_only)
        counts = ", ".join(
            f"{intent}: {found.counts[intent]}" for intent in self.settings.intents if intent in found.counts
        )
        failed = "; ".join(f"{intent}: {error.what}" for intent, error in found.failures.items())
        if not found.actions:
            first = next(iter(found.failures.values()), None)
            reasons = "; ".join(reason for reason in (failed, found_nothing(found)) if reason)
            raise MembraneError(
                ErrorCode.NO_ACTIONS,
                "Discovery found no actions" + (f" ({reasons})." if reasons else "."),
                first.fix if first else f"{BROADER_INTENTS}, or check the connection in Membrane.",
            )
        summary = f"{len(self.registry)} tools from {len(found.actions)} actions ({counts})"
        warning = empty_intents_warning(found)
        return summary + (f"; failed intents: {failed}" if failed else "") + (f"; {warning}" if warning else "")

    async def _read_call(self) -> str:
        """Run one read that needs no arguments, through the same tool a client would call."""
        assert self.connection_id is not None and self.registry is not None
        tool = next((t for t in self.registry if t.kind is Kind.READ and not required(t)), None)
        if tool is None:
            await self.membrane.request(self.connection_id, "/api/contacts", method="GET", query=[("limit", "1")])
            return "GET /api/contacts answered"
        arguments = {"limit": 1} if "limit" in tool.tool.input_schema.get("properties", {}) else {}
        await tool.run(self.membrane, self.connection_id, tool.validate(arguments))
        return f"{tool.name} answered"


def required(tool: ServerTool[Any]) -> list[str]:
    return list(tool.tool.input_schema.get("required", []))


async def run_doctor(settings: Settings, as_json: bool) -> int:
    checks = await Doctor(settings).run()
    ok = all(check.ok for check in checks)
    if as_json:
        print(json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, indent=2))
        return 0 if ok else 1
    for check in checks:
        mark = {True: "✓", False: "✗", None: "-"}[check.ok]
        print(f"{mark} {check.name}: {check.detail}")
        if check.fix:
            print(f"    fix: {check.fix}")
    print("All checks passed." if ok else "Some checks failed: run the fix shown, then `mautic-mcp doctor` again.")
    return 0 if ok else 1


def tools_payload(app: MauticServer) -> dict[str, Any]:
    return ListToolsResult(tools=app.tools()).model_dump(mode="json", by_alias=True, exclude_none=True)


async def print_tools(settings: Settings, as_json: bool) -> int:
    """The tools table (or the `tools/list` payload) on stdout; what limits the tools, a line each on stderr."""
    app = MauticServer(settings)
    with _quiet(server_log):
        await app.start()
    if app.problem is not None:
        available = ", ".join(tool.name for tool in app.registry)
        print(f"mautic-mcp: only these tools are available ({available}): {app.problem.message}", file=sys.stderr)
    empty = empty_intents_warning(app.discovery)
    if empty:
        print(f"mautic-mcp: {empty}", file=sys.stderr)
    if as_json:
        print(json.dumps(tools_payload(app), indent=2, ensure_ascii=False))
        return 0 if app.problem is None else 1
    rows = [(t.name, t.kind.value, ", ".join(required(t)) or "-") for t in app.registry]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'TOOL'.ljust(width)}  {'KIND'.ljust(11)}  REQUIRED")
    for name, kind, needs in rows:
        print(f"{name.ljust(width)}  {kind.ljust(11)}  {needs}")
    mode = "read-only" if settings.read_only else "read-write"
    print(f"{len(rows)} tools ({mode})")
    return 0 if app.problem is None else 1


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Hold back `logger`'s warnings: `print_tools` says the same on stderr in a line of its own."""
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
