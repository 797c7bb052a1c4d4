"""The MCP protocol layer: Mautic's discovered actions and `proxy_request` as tools.

Handlers stay thin. `MauticServer` holds what one running server knows (its
settings, the CLI, the connection, the tools); each call goes handler → tool →
runner → CLI → result, and every failure comes back as a result the model can act on.

Both protocol eras are served on one stdio loop. When the tool list changes (a
broken set-up fixed while the server runs), 2026-07-28 clients hear it on their
`subscriptions/listen` stream and 2025-era sessions get `notifications/tools/list_changed`.
A tool call that runs long reports progress, so clients that wait 60 s keep waiting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    Tool,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.connection import resolve_connection
from mautic_mcp.membrane.discovery import Discovery, discover
from mautic_mcp.membrane.errors import ErrorCode, MembraneError
from mautic_mcp.membrane.runner import Runner
from mautic_mcp.server import __version__
from mautic_mcp.server.config import DEFAULT_INTENTS, ENV_NAMES, Settings, flag_name
from mautic_mcp.tools.naming import closest, snake_case
from mautic_mcp.tools.registry import ToolRegistry, build_registry
from mautic_mcp.tools.results import error_result
from mautic_mcp.tools.tool import call_tool

log = logging.getLogger(__name__)

RECONNECT_INTERVAL_SECONDS = 5.0
PROGRESS_INTERVAL_SECONDS = 4.0
"""How often a running tool call reports progress; well under the 60 s clients wait for an answer."""
BROADER_INTENTS = (
    f"Name broader intents with {flag_name('intents')} / {ENV_NAMES['intents']}, "
    f"e.g. one Mautic area each ({', '.join(DEFAULT_INTENTS[:3])})"
)
INSTRUCTIONS = (
    "Tools for one Mautic marketing-automation account (contacts, companies, segments, campaigns, emails, "
    "forms, stages, notes, assets). Prefer the specific tools; use proxy_request for any other Mautic REST "
    "API call. Ask for small pages (limit) and page on. Writes are never retried automatically: when a "
    "write's outcome is unknown, check with a read before trying again."
)


class MauticServer:
    """One server's state: settings, the CLI, the chosen connection and the tools built from it."""

    def __init__(self, settings: Settings, membrane: Membrane | None = None) -> None:
        self.settings = settings
        self.membrane = membrane or membrane_for(settings)
        self.connection_id: str | None = None
        self.problem: MembraneError | None = None
        self.discovery = Discovery()
        self.registry: ToolRegistry = build_registry([], read_only=settings.read_only)
        self.revision = 0
        """Counts the changes of the tool list, so a handler can tell that its request changed it."""
        self.events = InMemorySubscriptionBus()
        """Where `ToolsListChanged` is published for the `subscriptions/listen` streams."""
        self._ready = anyio.Event()
        self._lock = anyio.Lock()
        self._last_attempt = float("-inf")
        self.reconnect_interval = RECONNECT_INTERVAL_SECONDS
        self.progress_interval = PROGRESS_INTERVAL_SECONDS

    async def start(self) -> None:
        """Find the connection and discover the tools; the server serves whatever comes of it."""
        try:
            async with self._lock:
                await self._connect_and_discover()
        finally:
            self._ready.set()

    async def _connect_and_discover(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            connection_id = await resolve_connection(self.membrane, self.settings.connection_id)
        except MembraneError as error:
            self.problem = error
            log.warning("no usable Mautic connection: %s", error.message)
            return
        self.discovery = await discover(self.membrane, connection_id, self.settings.intents, self.settings.limit)
        await self._use(build_registry(self.discovery.actions, read_only=self.settings.read_only))
        self.connection_id, self.problem = connection_id, None
        log.info(
            "connection %s: %d tools from %d intents (%d failed)",
            connection_id,
            len(self.registry),
            len(self.settings.intents),
            len(self.discovery.failures),
        )
        warning = empty_intents_warning(self.discovery)
        if warning:
            log.warning("%s", warning)

    async def _use(self, registry: ToolRegistry) -> None:
        """Serve `registry` from now on; when the listing differs, tell the listen streams."""
        changed = registry.listing() != self.registry.listing()
        self.registry = registry
        if changed:
            self.revision += 1
            await self.events.publish(ToolsListChanged())

    async def wait_ready(self) -> None:
        with anyio.move_on_after(self.settings.timeout * 2):
            await self._ready.wait()

    def tools(self) -> list[Tool]:
        return self.registry.listing()

    def _needs_setup(self) -> bool:
        return self.connection_id is None or (not self.discovery.actions and bool(self.discovery.failures))

    async def retry_setup(self) -> None:
        """Look again (at most every few seconds) while start-up found no connection or no actions at all.

        A user who fixes the set-up, or a discovery that failed for a passing reason, then
        gets the tools without restarting the server.
        """
        if not self._needs_setup():
            return
        async with self._lock:
            due = time.monotonic() - self._last_attempt >= self.reconnect_interval
            if self._needs_setup() and due:
                await self._connect_and_discover()

    async def connection(self) -> str:
        """The connection id, or the MembraneError that says why there is none and how to fix it."""
        await self.retry_setup()
        if self.connection_id is None:
            raise self.problem or MembraneError(ErrorCode.NO_CONNECTION, "No Mautic connection is available.")
        return self.connection_id

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None) -> CallToolResult:
        """Run the tool called `name`.

        An unknown name is a protocol error (INVALID_PARAMS) that suggests the closest
        names, or says that read-only mode hides the tool.
        """
        await self.wait_ready()
        tool = self.registry.get(name)
        if tool is None:
            await self.retry_setup()
            tool = self.registry.get(name)
        if tool is None:
            if self.connection_id is None and self.problem is not None:
                return error_result(f"{name} is not available: {self.problem.message}")
            raise MCPError(code=INVALID_PARAMS, message=self.unknown_tool(name))
        return await call_tool(
            tool,
            arguments,
            membrane=self.membrane,
            connection=self.connection,
            max_chars=self.settings.max_result_chars,
        )

    def unknown_tool(self, name: str) -> str:
        """Why no tool answers to `name`, and what to call instead."""
        hidden = next((n for n in (name, snake_case(name)) if n in self.registry.hidden), None)
        if hidden is not None:
            flags = f"{flag_name('read_only')} / {ENV_NAMES['read_only']}"
            return f"{hidden} is a write tool and this server runs in read-only mode ({flags}); it only reads."
        suggestions = closest(name, self.registry.names())
        if suggestions and snake_case(suggestions[0]) == snake_case(name):
            suggestions = suggestions[:1]
        if suggestions:
            return f"Unknown tool: {name!r}; did you mean {_either(suggestions)}?"
        return f"Unknown tool: {name!r}. Call tools/list for the available tools."


ProgressReporter = Callable[[float, float | None, str | None], Awaitable[None]]
"""`(progress, total, message)`, as `ServerSession.report_progress` takes them."""


@contextlib.asynccontextmanager
async def still_running(report: ProgressReporter, name: str, interval: float) -> AsyncIterator[None]:
    """Report at every multiple of `interval` seconds while the block runs, and never after it.

    Beats are counted from the start, so a slow report neither delays the beats after it
    nor sends them in a burst. The progress is the seconds elapsed, so it always increases;
    the message names the tool. An exception from the block comes out as itself, not
    wrapped in the group that runs the beats.
    """

    async def tick() -> None:
        started = anyio.current_time()
        beat = 0
        while True:
            beat = max(beat + 1, int((anyio.current_time() - started) // interval) + 1)
            await anyio.sleep_until(started + beat * interval)
            elapsed = anyio.current_time() - started
            await report(round(elapsed, 3), None, f"{name}: still running after {elapsed:.0f} s")

    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        try:
            yield
        except Exception as error:
            failure = error
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure


def _either(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def found_nothing(discovery: Discovery) -> str:
    """Which intents found no actions; empty when every intent found something."""
    empty = [intent for intent, count in discovery.counts.items() if count == 0]
    if not empty:
        return ""
    return ("intent " if len(empty) == 1 else "intents ") + ", ".join(map(repr, empty)) + " found no actions"


def empty_intents_warning(discovery: Discovery) -> str:
    """Which intents found no actions and what to do; empty when every intent found something."""
    nothing = found_nothing(discovery)
    return f"{nothing}. {BROADER_INTENTS}" if nothing else ""


def membrane_for(settings: Settings) -> Membrane:
    command = settings.cli_command()
    runner = Runner(command, timeout=settings.timeout, max_concurrency=settings.max_concurrency)
    program = "membrane-sandbox" if settings.sandbox else settings.membrane_bin
    return Membrane(runner, program=program, sandbox=settings.sandbox)


def build_server(app: MauticServer) -> Server[MauticServer]:
    """The low-level MCP server over `app`; discovery runs in the background from the start."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Server[MauticServer]) -> AsyncIterator[MauticServer]:
        async with anyio.create_task_group() as group:
            group.start_soon(app.start)
            yield app
            group.cancel_scope.cancel()

    async def list_tools(
        ctx: ServerRequestContext[MauticServer], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        await app.wait_ready()
        await app.retry_setup()
        tools = app.tools()
        start = 0
        cursor = params.cursor if params is not None else None
        if cursor is not None:
            if not cursor.isdigit() or int(cursor) >= len(tools):
                raise MCPError(code=INVALID_PARAMS, message=f"Unknown cursor: {cursor!r}")
            start = int(cursor)
        end = start + app.settings.page_size
        return ListToolsResult(tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None)

    async def call_tool(ctx: ServerRequestContext[MauticServer], params: CallToolRequestParams) -> CallToolResult:
        revision = app.revision
        try:
            # report_progress sends nothing when the request carried no progress token.
            async with still_running(ctx.session.report_progress, params.name, app.progress_interval):
                result = await app.call_tool(params.name, params.arguments)
        except MCPError:
            raise
        except Exception:
            log.exception("tool %s failed unexpectedly", params.name)
            return error_result(
                f"{params.name} failed with an internal error in mautic-mcp (see the server log); "
                "the server is still running. Try again, or use proxy_request."
            )
        if app.revision != revision and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await _notify_tools_changed(ctx)
        return result

    return Server[MauticServer](
        "mautic-mcp",
        version=__version__,
        title="Mautic",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(app.events),
    )


async def _notify_tools_changed(ctx: ServerRequestContext[MauticServer]) -> None:
    try:
        await ctx.session.send_tool_list_changed()
    except Exception as error:  # a client that cannot take it still gets its result
        log.info("could not send tools/list_changed: %s", error)


async def serve_stdio(settings: Settings) -> None:
    app = MauticServer(settings)
    server = build_server(app)
    options = server.create_initialization_options(notification_options=NotificationOptions(tools_changed=True))
    async with anyio.create_task_group() as group:
        if sys.platform != "win32":
            group.start_soon(_exit_on_signal, app)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, options)
        group.cancel_scope.cancel()


async def _exit_on_signal(app: MauticServer) -> None:
    """On SIGTERM, SIGHUP or SIGINT, kill the running CLI process groups, then exit at once.

    Clients stop a server with a signal (the SDK after 2 s, desktop apps on quit), and the
    stdin reader cannot be interrupted, so waiting for an orderly shutdown could leave the
    CLI processes, which run in process groups of their own, behind.
    """
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP, signal.SIGINT) as signals:
        async for number in signals:
            log.warning(
                "%s received: stopping %d CLI process(es) and exiting",
                signal.Signals(number).name,
                app.membrane.runner.running,
            )
            app.membrane.runner.kill_all()
            logging.shutdown()
            os._exit(128 + number)
