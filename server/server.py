"""The MCP protocol layer: Mautic's discovered actions and `proxy_request` as tools.

Handlers stay thin: each call goes handler → `Setup.call_tool` (tool → runner → CLI → result),
and every failure comes back as a result the model can act on. `MauticServer` adds to the set-up
(`setup.Setup`) what only a protocol server has: its sessions and what they are told.

Both protocol eras are served on one stdio loop. When the tool list changes,
2026-07-28 clients hear it on their `subscriptions/listen` stream and 2025-era sessions
(those that completed the handshake) get `notifications/tools/list_changed`. A tool call
that runs long reports progress, so clients that wait 60 s keep waiting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

import anyio
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.server import __version__
from mautic_mcp.server.config import Settings
from mautic_mcp.server.logs import shown
from mautic_mcp.server.setup import Setup, UnknownTool
from mautic_mcp.server.stdio import stdio_streams
from mautic_mcp.server.wire import safe_result
from mautic_mcp.tools.results import error_result

log = logging.getLogger(__name__)

ANNOUNCE_SECONDS = 2.0
"""The longest a 2025-era session's `tools/list_changed` may take to send before it is given up on."""
PROGRESS_INTERVAL_SECONDS = 4.0
"""How often a running tool call reports progress; well under the 60 s clients wait for an answer."""
LEGACY_SESSIONS = 64
"""The most 2025-era sessions kept to tell of a changed list (stdio has one; the bound is for the odd host)."""
CURSOR: Final = re.compile(r"[0-9]{1,9}", re.ASCII)
"""A `tools/list` cursor is the index of the page's first tool, in ASCII digits."""
INSTRUCTIONS = (
    "Tools for one Mautic marketing-automation account (contacts, companies, segments, campaigns, emails, "
    "forms, stages, notes, assets). Prefer the specific tools; use proxy_request for any other Mautic REST "
    "API call. Ask for small pages (limit) and page on. Writes are never retried automatically: when a "
    "write's outcome is unknown, check with a read before trying again."
)


class MauticServer(Setup):
    """One server: its set-up, and the sessions told when the tool list changes."""

    def __init__(self, settings: Settings, membrane: Membrane | None = None) -> None:
        super().__init__(settings, membrane)
        self.events = InMemorySubscriptionBus()
        """Where `ToolsListChanged` is published for the `subscriptions/listen` streams."""
        self.legacy_sessions: list[ServerSession] = []
        """2025-era sessions that completed the handshake: they hear of a changed list by notification."""
        self.legacy_session_limit = LEGACY_SESSIONS
        """The most kept at once; the HTTP transport, serving many sessions, raises it."""
        self.progress_interval = PROGRESS_INTERVAL_SECONDS

    async def changed(self) -> None:
        """Tell every client: the `subscriptions/listen` streams, then each 2025-era session."""
        await self.events.publish(ToolsListChanged())

        async def tell(session: ServerSession) -> None:
            with anyio.move_on_after(ANNOUNCE_SECONDS):
                try:
                    await session.send_tool_list_changed()
                except Exception as error:  # a session that went away is no reason to stop
                    log.info("could not send tools/list_changed: %s", shown(error))
                    self.forget_session(session)

        # All at once: over HTTP, one slow session must not hold up the others' notification.
        async with anyio.create_task_group() as group:
            for session in list(self.legacy_sessions):
                group.start_soon(tell, session)

    def remember_session(self, session: ServerSession) -> None:
        """Tell this 2025-era session (one that completed the handshake) when the tool list changes.

        A session that shakes hands again replaces its earlier entry: sessions of one connection share
        its `client_params`, so the connection is told once.
        """
        same = session.client_params
        kept = [known for known in self.legacy_sessions if same is None or known.client_params is not same]
        self.legacy_sessions = [*kept, session][-self.legacy_session_limit :]

    def forget_session(self, session: ServerSession) -> None:
        """The session could not be told (an HTTP session that ended, say): it is not tried again."""
        self.legacy_sessions = [known for known in self.legacy_sessions if known is not session]

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None) -> CallToolResult:
        """`Setup.call_tool`; a name no tool answers to is a protocol error (INVALID_PARAMS) naming the closest."""
        try:
            return await super().call_tool(name, arguments)
        except UnknownTool as unknown:
            raise MCPError(code=INVALID_PARAMS, message=unknown.message) from None

    def page(self, cursor: str | None) -> ListToolsResult:
        """One `tools/list` page: from the tool at `cursor` (ASCII digits, an index within the list)."""
        tools = self.tools()
        start = 0
        if cursor is not None:
            if not isinstance(cursor, str) or not CURSOR.fullmatch(cursor) or int(cursor) >= len(tools):
                raise MCPError(code=INVALID_PARAMS, message=f"Unknown cursor: {shown(repr(cursor), 40)}")
            start = int(cursor)
        end = start + self.settings.page_size
        return ListToolsResult(tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None)


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


def build_server(app: MauticServer) -> Server[MauticServer]:
    """The low-level MCP server over `app`; the set-up is checked in the background from the start."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Server[MauticServer]) -> AsyncIterator[MauticServer]:
        async with app.running():
            yield app

    async def list_tools(
        ctx: ServerRequestContext[MauticServer], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        cursor = params.cursor if params is not None else None
        if cursor is None:
            await app.settle(listing=True)
        page = app.page(cursor)
        app.listed()
        return page

    async def call_tool(ctx: ServerRequestContext[MauticServer], params: CallToolRequestParams) -> CallToolResult:
        # Progress is for a request that asked for it (a progress token); the others pay nothing for it.
        beats: contextlib.AbstractAsyncContextManager[None] = (
            still_running(ctx.session.report_progress, params.name, app.progress_interval)
            if ctx.meta is not None and ctx.meta.get("progress_token") is not None
            else contextlib.nullcontext()
        )
        try:
            async with beats:
                result = await app.call_tool(params.name, params.arguments)
        except MCPError:
            raise
        except Exception:
            log.exception("tool %s failed unexpectedly", shown(params.name))
            return error_result(
                f"{shown(params.name)} failed with an internal error in mautic-mcp (see the server log); "
                "the server is still running. Try again, or use proxy_request."
            )
        return safe_result(result, params.name)

    async def remember_legacy_sessions(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Keep each 2025-era session that completes the handshake, to tell it when the tool list changes."""
        result = await call_next(ctx)
        if ctx.method == "notifications/initialized" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            app.remember_session(ctx.session)
        return result

    server = Server[MauticServer](
        "mautic-mcp",
        version=__version__,
        title="Mautic",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(app.events),
    )
    server.middleware.append(remember_legacy_sessions)
    return server


async def serve_stdio(settings: Settings) -> None:
    app = MauticServer(settings)
    server = build_server(app)
    options = server.create_initialization_options(notification_options=NotificationOptions(tools_changed=True))
    async with exiting_on_signal(app), stdio_streams() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)


@contextlib.asynccontextmanager
async def exiting_on_signal(app: MauticServer) -> AsyncIterator[None]:
    """While the block serves (any transport), a signal ends the CLI processes and the server (`_exit_on_signal`)."""
    async with anyio.create_task_group() as group:
        if sys.platform != "win32":
            group.start_soon(_exit_on_signal, app)
        yield
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
