"""`mautic-mcp doctor` and `mautic-mcp tools`: the set-up, checked and shown before a client uses it."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import anyio
import anyio.to_thread
from mcp_types import ListToolsResult

from mautic_mcp.membrane.cache import DiscoveryCache, Entry
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.connection import check_usable, choose, describe, is_mautic
from mautic_mcp.membrane.discovery import Discovery, discover
from mautic_mcp.membrane.discovery import log as discovery_log
from mautic_mcp.membrane.errors import INSTALL_COMMAND, LOGIN_COMMAND, ErrorCode, MembraneError
from mautic_mcp.membrane.output import quote
from mautic_mcp.membrane.runner import log as runner_log
from mautic_mcp.server.config import ENV_NAMES, Settings, flag_name
from mautic_mcp.server.logs import one_line
from mautic_mcp.server.setup import (
    BROADER_INTENTS,
    Setup,
    empty_intents_warning,
    found_nothing,
    membrane_for,
    settings_cache_key,
)
from mautic_mcp.server.setup import log as setup_log
from mautic_mcp.tools.registry import ToolRegistry, build_registry
from mautic_mcp.tools.tool import Kind, ServerTool

VERSION = re.compile(r"\bv?\d+\.\d+")
"""What a version looks like somewhere in the first line of `--version`: 1.4, v2.0.3, cli/1.4.2."""
LISTED_CONNECTIONS = 10
"""At most this many connections are named when a configured one is not among them."""


@dataclass
class Check:
    name: str
    ok: bool | None
    detail: str
    fix: str = ""


class Doctor:
    """Runs the checks in order; a failed check skips the ones that depend on it.

    A check that cannot verify what it checks fails (a `--version` that prints no version, a `status --json`
    that prints no JSON): a ✓ means it was seen to work. A CLI that gives no answer is waited for once: after
    a timeout the remaining checks are skipped, not each left to time out in turn.
    """

    def __init__(self, settings: Settings, membrane: Membrane | None = None) -> None:
        self.settings = settings
        self.membrane = membrane or membrane_for(settings)
        self.checks: list[Check] = []
        self.connection_id: str | None = None
        self.registry: ToolRegistry | None = None
        self.found: Discovery | None = None
        self.status: Any = None
        self.waiting_on = ""
        """The CLI command a check is running, for the fix when it gives no answer."""
        self.timed_out = False

    async def run(self) -> list[Check]:
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("Membrane CLI", self._cli),
            ("Logged in", self._logged_in),
            ("Mautic connection", self._connection),
            ("Action discovery", self._discovery),
            ("Discovery cache", self._cache),
            ("Read-only call", self._read_call),
        ]
        skip = ""
        # Each check says what failed, once: the log lines of the same failures are held back (unless a log
        # level was asked for), e.g. one per failed intent.
        quiet = self.settings.log_level is None
        with _quiet(discovery_log, runner_log) if quiet else contextlib.nullcontext():
            for name, step in steps:
                if skip:
                    self.checks.append(Check(name, None, skip))
                    continue
                try:
                    self.checks.append(Check(name, True, await step()))
                except MembraneError as error:
                    self.timed_out |= error.code is ErrorCode.TIMEOUT
                    fix = self._timeout_fix() if error.code is ErrorCode.TIMEOUT else error.fix
                    self.checks.append(Check(name, False, error.what, fix))
                    skip = "skipped: fix the check above first"
                if self.timed_out:
                    skip = (
                        f"skipped: the CLI gave no answer within {self.settings.timeout:g} s above; "
                        "one wait is enough to tell"
                    )
        return self.checks

    def _timeout_fix(self) -> str:
        limit = f"{flag_name('timeout')} / {ENV_NAMES['timeout']}"
        return (
            f"Run `{self._program()} {self.waiting_on}` in a terminal to see what it waits for (a prompt, an "
            f"update, the network); if it is only slow, raise {limit} (now {self.settings.timeout:g} s)."
        )

    def _program(self) -> str:
        return " ".join(self.membrane.runner.command)

    async def _cli(self) -> str:
        """The CLI runs, prints a version, and answers `status --json` with JSON: then it is a Membrane CLI."""
        self.waiting_on = "--version"
        version = await self.membrane.version()
        not_membrane = f"Set {flag_name('membrane_bin')} / {ENV_NAMES['membrane_bin']} to the Membrane CLI (`which "
        not_membrane += f"membrane`); install or update it with `{INSTALL_COMMAND}`."
        if not looks_like_version(version):
            shown = f"'{quote(version, 80)}'" if version != "unknown" else "nothing"
            raise MembraneError(
                ErrorCode.UNREADABLE_OUTPUT,
                f"{self._program()} answered `--version` with {shown}, which is no version: it is not the "
                "Membrane CLI, or it does not work.",
                not_membrane,
            )
        self.waiting_on = "status --json"
        try:
            self.status = await self.membrane.status()
        except MembraneError as error:
            if error.code is ErrorCode.UNREADABLE_OUTPUT:
                raise MembraneError(
                    error.code,
                    f"{self._program()} does not answer `status --json` with JSON, so it is not the Membrane CLI "
                    f"(or one too old): {error.what}",
                    not_membrane,
                ) from None
            if error.code is ErrorCode.TIMEOUT:
                raise
            self.status = error  # the CLI answered; what it said is the next check's
        return f"{self._program()} ({version})"

    async def _logged_in(self) -> str:
        """What `status --json` said: not logged out (a failure it reported is this check's)."""
        status = self.status
        if isinstance(status, MembraneError):
            raise status
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
        """The configured connection when Membrane lists it and it is READY; else the one ready Mautic connection."""
        self.waiting_on = "connection list --json"
        connections = await self.membrane.list_connections()
        configured = self.settings.connection_id
        if configured is None:
            chosen: Mapping[str, Any] = choose(connections)
        else:
            found = next((c for c in connections if configured in (c.get("id"), c.get("key"))), None)
            if found is None:
                raise not_listed(configured, connections)
            check_usable(found)
            chosen = found
        self.connection_id = str(chosen["id"])
        return f"{self.connection_id} is READY"

    async def _discovery(self) -> str:
        assert self.connection_id is not None
        self.waiting_on = f"action list --connectionId={self.connection_id} --intent=... --json"
        found = await discover(self.membrane, self.connection_id, self.settings.intents, self.settings.limit)
        self.timed_out |= any(error.code is ErrorCode.TIMEOUT for error in found.failures.values())
        self.found = found
        self.registry = build_registry(found.actions, read_only=self.settings.read_only)
        counts = ", ".join(
            f"{intent}: {found.counts[intent]}" for intent in self.settings.intents if intent in found.counts
        )
        failed = failures_said_once(found, len(self.settings.intents))
        if not found.actions:
            first = next(iter(found.failures.values()), None)
            reasons = [f"it failed for {failed.rstrip('.')}" if failed else "", found_nothing(found)]
            said = "; ".join(reason for reason in reasons if reason)
            raise MembraneError(
                ErrorCode.NO_ACTIONS,
                "Discovery found no actions" + (f": {said}." if said else "."),
                first.fix if first else f"{BROADER_INTENTS}, or check the connection in Membrane.",
            )
        summary = f"{len(self.registry)} tools from {len(found.actions)} actions ({counts})"
        warning = empty_intents_warning(found)
        return summary + (f"; failed: {failed}" if failed else "") + (f"; {warning}" if warning else "")

    async def _read_call(self) -> str:
        """Run one read that needs no arguments, through the same tool a client would call."""
        assert self.connection_id is not None and self.registry is not None
        tool = next((t for t in self.registry if t.kind is Kind.READ and not required(t)), None)
        if tool is None:
            self.waiting_on = f"request {self.connection_id} /api/contacts --query=limit=1"
            await self.membrane.request(self.connection_id, "/api/contacts", method="GET", query=[("limit", "1")])
            return "GET /api/contacts answered"
        arguments = {"limit": 1} if "limit" in tool.tool.input_schema.get("properties", {}) else {}
        action = getattr(tool, "action_id", tool.name)
        self.waiting_on = f"action run {action} --connectionId={self.connection_id} --input='{json.dumps(arguments)}'"
        await tool.run(self.membrane, self.connection_id, await tool.check(arguments))
        return f"{tool.name} answered"

    async def _cache(self) -> str:
        """Where the discovery cache is, and its entry for these settings brought up to what was just found."""
        folder = self.settings.cache_folder()
        if folder is None:
            return f"off ({flag_name('no_cache')} / {ENV_NAMES['no_cache']}): every start discovers afresh"
        assert self.connection_id is not None and self.found is not None
        cache = DiscoveryCache(folder)
        key = settings_cache_key(self.settings, self.membrane.runner.env)
        held = await anyio.to_thread.run_sync(cache.load, key)
        found = Entry(
            self.connection_id, {i: self.found.pages[i] for i in self.settings.intents if i in self.found.pages}
        )
        path = cache.path(key)
        if held == found:
            return f"{path} matches what was just discovered: the server's next start serves it at once"
        if self.found.failures:
            was = "holds an older discovery" if held is not None else "has no entry for these settings yet"
            return f"{folder} {was}; not rewritten, as discovery failed for some intents (the server retries them)"
        if not await anyio.to_thread.run_sync(cache.save, key, found):
            raise MembraneError(
                ErrorCode.FAILED,
                f"The discovery cache cannot be written in {folder} (the log says why): every start discovers afresh.",
                f"Point {flag_name('cache_dir')} / {ENV_NAMES['cache_dir']} at a folder you can write, or turn the "
                f"cache off with {flag_name('no_cache')}.",
            )
        was = "held an older discovery" if held is not None else "had no entry for these settings"
        return f"{path} {was}; updated with what was just discovered"


def looks_like_version(text: str) -> bool:
    """A short line with a dotted number in it; an HTML page (a proxy's 502) or an echo of the argument is not."""
    line = text.strip()
    return bool(line) and len(line) <= 200 and not line.startswith("<") and bool(VERSION.search(line))


def not_listed(configured: str, connections: list[dict[str, Any]]) -> MembraneError:
    """A configured connection id (or key) that Membrane does not list: it is not READY, it is not there."""
    mautic = [c for c in connections if is_mautic(c) and c.get("id")]
    shown = mautic or [c for c in connections if c.get("id")]
    setting = f"{flag_name('connection_id')} / {ENV_NAMES['connection_id']}"
    if not shown:
        return MembraneError(
            ErrorCode.CONNECTION_NOT_FOUND,
            f"The connection {quote(configured, 80)} set by {setting} was not found: Membrane lists no connections.",
            "Connect Mautic with `membrane connect --connectorKey mautic` (finish the authorization in the browser), "
            f"then leave {setting} unset to use it.",
        )
    kind = "Mautic connections" if mautic else "connections"
    listed = "; ".join(describe(c) for c in shown[:LISTED_CONNECTIONS])
    more = f" and {len(shown) - LISTED_CONNECTIONS} more" if len(shown) > LISTED_CONNECTIONS else ""
    return MembraneError(
        ErrorCode.CONNECTION_NOT_FOUND,
        f"The connection {quote(configured, 80)} set by {setting} was not found. Membrane's {kind}: {listed}{more}.",
        f"Set {setting} to one of these ids, or leave it unset to use the one ready Mautic connection.",
    )


def failures_said_once(found: Discovery, intents: int) -> str:
    """The failed intents grouped by what failed, so nine intents that failed alike are one sentence."""
    groups: dict[str, list[str]] = {}
    for intent, error in found.failures.items():
        groups.setdefault(error.what, []).append(intent)
    if len(groups) == 1 and len(found.failures) == intents > 1:
        (what,) = groups
        return f"all {intents} intents: {what}"
    return "; ".join(f"{', '.join(names)}: {what}" for what, names in groups.items())


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
        # Details quote Membrane and Mautic: each stays on its line, so none can pass for a check of its own.
        print(f"{mark} {check.name}: {one_line(check.detail)}")
        if check.fix:
            print(f"    fix: {one_line(check.fix)}")
    print("All checks passed." if ok else "Some checks failed: run the fix shown, then `mautic-mcp doctor` again.")
    return 0 if ok else 1


def tools_payload(app: Setup) -> dict[str, Any]:
    return ListToolsResult(tools=app.tools()).model_dump(mode="json", by_alias=True, exclude_none=True)


async def print_tools(settings: Settings, as_json: bool) -> int:
    """The tools table (or the `tools/list` payload) on stdout; what limits the tools, a line each on stderr."""
    app = Setup(settings)
    with _quiet(setup_log, discovery_log):
        await app.start()
    failures = app.discovery.failures
    if failures:
        failed = failures_said_once(app.discovery, len(settings.intents))
        fix = next(iter(failures.values())).fix
        said = f"mautic-mcp: discovery failed for {one_line(failed.rstrip('.'))}. {one_line(fix)}"
        print(said.rstrip(), file=sys.stderr)
    usable = app.problem is None and not (failures and not app.discovery.actions)
    if app.problem is not None:
        available = ", ".join(tool.name for tool in app.registry)
        print(
            f"mautic-mcp: only these tools are available ({available}): {one_line(app.problem.message)}",
            file=sys.stderr,
        )
    empty = empty_intents_warning(app.discovery)
    if empty:
        print(f"mautic-mcp: {one_line(empty)}", file=sys.stderr)
    if as_json:
        print(json.dumps(tools_payload(app), indent=2, ensure_ascii=False))
        return 0 if usable else 1
    rows = [(t.name, t.kind.value, one_line(", ".join(map(str, required(t)))) or "-") for t in app.registry]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'TOOL'.ljust(width)}  {'KIND'.ljust(11)}  REQUIRED")
    for name, kind, needs in rows:
        print(f"{name.ljust(width)}  {kind.ljust(11)}  {needs}")
    mode = "read-only" if settings.read_only else "read-write"
    print(f"{len(rows)} tools ({mode})")
    return 0 if usable else 1


@contextlib.contextmanager
def _quiet(*loggers: logging.Logger) -> Iterator[None]:
    """Hold back the loggers' warnings: `doctor` and `tools` say the same once, in a line of their own."""
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
