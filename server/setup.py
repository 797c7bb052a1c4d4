"""The set-up behind the tools: which connection, which actions, checked in the background.

`Setup` holds what one server knows (its settings, the CLI, the connection, the tools) and runs
each call: tool → runner → CLI → result. It imports no part of the MCP SDK but its wire types,
so `mautic-mcp tools` and `doctor` start without it; `server.MauticServer` adds the sessions.

The set-up is checked in the background, never inside a request: `tools/list` answers within
`SETUP_WAIT_SECONDS` with what is known (at least `proxy_request`), and a call that needs what is
still being checked says so. A check that found no connection, or intents whose discovery failed,
is tried again on a schedule (`RECONNECT_INTERVAL_SECONDS` at least between two checks, backing off
up to `RETRY_MAX_SECONDS`, sooner when a request wants it). A warm start serves what the discovery
cache holds, with no CLI process before the first answer, then checks it again.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.to_thread
from mcp_types import CallToolResult, Tool

from mautic_mcp.membrane.cache import DiscoveryCache, Entry, account_marker, cache_key
from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.connection import resolve_connection
from mautic_mcp.membrane.discovery import Discovery, merge
from mautic_mcp.membrane.errors import LIST_CONNECTIONS_COMMAND, ErrorCode, MembraneError
from mautic_mcp.membrane.runner import Runner
from mautic_mcp.server.config import DEFAULT_INTENTS, ENV_NAMES, Settings, flag_name
from mautic_mcp.server.logs import one_line, shown
from mautic_mcp.server.wire import encodable
from mautic_mcp.tools.naming import closest, snake_case
from mautic_mcp.tools.registry import ToolRegistry, build_registry
from mautic_mcp.tools.results import error_result
from mautic_mcp.tools.tool import call_tool

log = logging.getLogger(__name__)

SETUP_WAIT_SECONDS = 2.5
"""How long `tools/list`, or a call that needs the set-up, waits for a check under way (counted from the
start of the check): under the 3 s `tools/list` must answer in, far under the 60 s clients give up at."""
DISCOVERY_SETTLE_SECONDS = 2.0
"""After this long into a check, the tools found so far are served, then each intent's as it answers;
before it, they are served all at once, so a normal start-up changes the list once."""
RECONNECT_INTERVAL_SECONDS = 5.0
"""The least time from the end of one check to the start of the next: no retry starts CLI processes more often."""
RETRY_FIRST_SECONDS = 5.0
"""The first retry nobody asked for comes this long after a check that left something to do; each next
one waits twice as long, up to `RETRY_MAX_SECONDS`. A request that needs the set-up brings it forward."""
RETRY_MAX_SECONDS = 300.0
WARM_REFRESH_SECONDS = 1.0
"""Served from the cache, the re-check starts right after the first `tools/list` answer, or after this long."""
WARM_REFRESH_AFTER_LIST = 0.1
"""How long after that first answer the re-check starts: no CLI process starts before the answer is out."""
GONE_AT_REFRESH: Final = frozenset(
    {
        ErrorCode.NO_CONNECTION,
        ErrorCode.SEVERAL_CONNECTIONS,
        ErrorCode.CONNECTION_DEFUNCT,
        ErrorCode.RECONNECT_NEEDED,
        ErrorCode.CONNECTION_BUILDING,
        ErrorCode.NOT_LOGGED_IN,
    }
)
"""What a re-check of a cached connection may find that makes the cached connection unusable."""
MAX_TOOL_NAME = 128
"""No tool has a longer name (the MCP limit); a longer one is answered without searching for it."""
BROADER_INTENTS = (
    f"Name broader intents with {flag_name('intents')} / {ENV_NAMES['intents']}, "
    f"e.g. one Mautic area each ({', '.join(DEFAULT_INTENTS[:3])})"
)


class UnknownTool(LookupError):
    """No tool answers to a name; the message says what to call instead (the protocol layer's INVALID_PARAMS)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Check:
    """One look at the set-up: the connection (when none is known yet), then discovery of the intents it covers."""

    started: float
    intents: int = 0
    answered: int = 0
    refresh: bool = False
    """A re-check of what the cache served: requests answer with what is known rather than wait for it."""
    connected: anyio.Event = field(default_factory=anyio.Event)
    """Set once the connection is known or known to be missing."""
    done: anyio.Event = field(default_factory=anyio.Event)

    def elapsed(self) -> float:
        return anyio.current_time() - self.started


class Setup:
    """What one server knows of its set-up: settings, the CLI, the chosen connection and the tools built
    from it, checked in the background; knows nothing of MCP sessions (`changed` is where a server hears of
    a new tool list)."""

    def __init__(self, settings: Settings, membrane: Membrane | None = None) -> None:
        self.settings = settings
        self.membrane = membrane or membrane_for(settings)
        self.connection_id: str | None = None
        self.problem: MembraneError | None = None
        """Why there is no connection, as the last check found."""
        self.pages: dict[str, list[Action]] = {}
        """Each intent's actions, as its last answer gave them."""
        self.failures: dict[str, MembraneError] = {}
        """Intents whose last discovery failed: tried again on the retry schedule."""
        self.discovery = Discovery()
        self.registry: ToolRegistry = build_registry([], read_only=settings.read_only)
        self.revision = 0
        """Counts the changes of the tool list."""
        self.check: Check | None = None
        """The check under way, if any."""
        self.reconnect_interval = RECONNECT_INTERVAL_SECONDS
        self.retry_first = RETRY_FIRST_SECONDS
        self.retry_max = RETRY_MAX_SECONDS
        self.setup_wait = SETUP_WAIT_SECONDS
        self.discovery_settle = DISCOVERY_SETTLE_SECONDS
        self._lock = anyio.Lock()
        self._install_lock = anyio.Lock()
        self._last_end = -math.inf
        self._serving = False
        self._wanted = anyio.Event()
        self._began = anyio.Event()
        folder = settings.cache_folder()
        self.cache = DiscoveryCache(folder) if folder is not None else None
        self.from_cache = False
        """What is served came from the cache and has not been re-checked yet."""
        self._cached_intents: set[str] = set()
        """Intents whose page came from the cache: a failed re-check keeps it."""
        self._saved: Entry | None = None
        self.removed: set[str] = set()
        """Tools a change took away: a call to one says what changed."""
        self.warm_refresh = WARM_REFRESH_SECONDS
        self.warm_refresh_after_list = WARM_REFRESH_AFTER_LIST
        self._listed = anyio.Event()
        self._reconnect_lock = anyio.Lock()

    # --- the set-up, checked -------------------------------------------------------------------------

    async def start(self) -> None:
        """Look for the connection and discover every intent, now, and wait for the outcome (`tools`, tests)."""
        await self._check(full=True)

    async def retry_setup(self) -> None:
        """Check again, now and waiting for it, when something is left to do and the interval has passed."""
        if self.incomplete() and self._due():
            await self._check()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Check the set-up in the background while the block runs; requests never run a check themselves."""
        async with anyio.create_task_group() as group:
            self._serving = True
            await self._warm_start()
            group.start_soon(self._keep_checking)
            try:
                yield
            finally:
                self._serving = False
                group.cancel_scope.cancel()

    def listed(self) -> None:
        """A `tools/list` was answered: a re-check of what the cache served may start."""
        self._listed.set()

    def cache_key(self) -> str:
        return settings_cache_key(self.settings, self.membrane.runner.env)

    async def _warm_start(self) -> None:
        """Serve the connection and tools the cache holds for these settings, if it holds them all."""
        if self.cache is None or self.connection_id is not None:
            return
        try:
            entry = await anyio.to_thread.run_sync(self.cache.load, self.cache_key())
        except Exception:
            log.exception("reading the discovery cache failed unexpectedly; discovering afresh")
            return
        if entry is None or set(entry.pages) != set(self.settings.intents):
            return
        self.connection_id = entry.connection_id
        self.pages = {intent: list(entry.pages[intent]) for intent in self.settings.intents}
        self._cached_intents = set(self.pages)
        self._saved = entry
        self.from_cache = True
        await self._install()
        log.info(
            "connection %s: %d tools from the discovery cache; re-checking in the background",
            shown(self.connection_id),
            len(self.registry),
        )

    async def _save(self) -> None:
        """Keep a complete set-up in the cache when it differs from what the cache holds."""
        if self.cache is None or self.connection_id is None or self.failures:
            return
        if any(intent not in self.pages for intent in self.settings.intents):
            return
        entry = Entry(self.connection_id, {intent: list(self.pages[intent]) for intent in self.settings.intents})
        if entry == self._saved:
            return
        try:
            if await anyio.to_thread.run_sync(self.cache.save, self.cache_key(), entry):
                self._saved = entry
        except Exception:
            log.exception("writing the discovery cache failed unexpectedly")

    def incomplete(self) -> bool:
        """Whether a check is due some time: no connection yet, or intents whose discovery failed."""
        return self.connection_id is None or bool(self.failures)

    def settled(self) -> bool:
        return self.check is None and not self.incomplete()

    async def settle(self, *, connection_only: bool = False, listing: bool = False) -> None:
        """Wait a little for what the set-up is about to tell: the check under way, or one due now.

        Never longer than `setup_wait` from the start of the check, so a check that hangs (a CLI
        that never answers) costs a request at most that, and nothing once the check is older.
        Not serving (a command, a test), the check runs here, as `retry_setup` does.
        A `listing` does not wait for a re-check of what the cache served: it answers from the cache.
        """
        if self.settled() or (listing and self.check is not None and self.check.refresh):
            return
        if not self._serving:
            if self.check is None:
                await self.retry_setup()
            return
        check = self.check
        if check is None:
            if not self.incomplete():
                return
            due = self._due()
            began = self._began
            self._wanted.set()
            if not due:
                return
            with anyio.move_on_after(self.setup_wait):
                await began.wait()
            check = self.check
            if check is None:
                return
        waited = check.connected if connection_only else check.done
        with anyio.move_on_after(max(0.0, self.setup_wait - check.elapsed())):
            await waited.wait()

    def _due(self) -> bool:
        return anyio.current_time() - self._last_end >= self.reconnect_interval

    async def _keep_checking(self) -> None:
        """The first check, then retries while something is left to do: backing off, sooner when wanted."""
        if self.from_cache:
            with anyio.move_on_after(self.warm_refresh):
                await self._listed.wait()
                await anyio.sleep(self.warm_refresh_after_list)
            await self._check_safely(full=True, refresh=True)
        elif not self.settled():
            await self._check_safely(full=self.connection_id is None)
        delay = self.retry_first
        while self.incomplete():
            with anyio.move_on_after(max(0.0, self._last_end + delay - anyio.current_time())):
                await self._wanted.wait()
            wanted = self._wanted.is_set()
            await anyio.sleep(max(0.0, self._last_end + self.reconnect_interval - anyio.current_time()))
            self._wanted = anyio.Event()
            await self._check_safely()
            delay = self.retry_first if wanted else min(delay * 2, self.retry_max)

    async def _check_safely(self, *, full: bool = False, refresh: bool = False) -> None:
        """A background check that cannot take the server down, whatever it meets."""
        try:
            await self._check(full=full, refresh=refresh)
        except Exception:
            log.exception("checking the set-up failed unexpectedly; it is tried again later")

    async def _check(self, *, full: bool = False, refresh: bool = False) -> None:
        """Find the connection (when none is known, or `full`), then discover the intents still to discover."""
        async with self._lock:
            check = Check(started=anyio.current_time(), refresh=refresh)
            self.check = check
            self._began.set()
            self._began = anyio.Event()
            try:
                if full or self.connection_id is None:
                    connection_id = await self._connect()
                    if connection_id is None:
                        if refresh and self.problem is not None and self.problem.code in GONE_AT_REFRESH:
                            self.connection_id = None
                        return
                    if connection_id != self.connection_id:
                        if self.connection_id is not None:
                            log.info(
                                "the connection changed from %s to %s",
                                shown(self.connection_id),
                                shown(connection_id),
                            )
                        self.pages.clear()
                        self.failures.clear()
                        self._cached_intents.clear()
                    self.connection_id, self.problem = connection_id, None
                    intents = list(self.settings.intents)
                else:
                    intents = [intent for intent in self.settings.intents if intent in self.failures]
                check.connected.set()
                await self._discover(self.connection_id, intents, check)
                self._log_outcome(intents)
                await self._save()
            finally:
                if refresh:
                    self.from_cache = False
                check.connected.set()
                check.done.set()
                self.check = None
                self._last_end = anyio.current_time()

    async def _connect(self) -> str | None:
        try:
            return await resolve_connection(self.membrane, self.settings.connection_id)
        except MembraneError as error:
            self.problem = error
            log.warning("no usable Mautic connection: %s", one_line(error.message))
        except Exception:
            log.exception("finding the Mautic connection failed unexpectedly")
            self.problem = MembraneError(
                ErrorCode.FAILED,
                f"Finding the Mautic connection failed unexpectedly (`{LIST_CONNECTIONS_COMMAND}` answered "
                "something this server could not use; see the server log).",
                "Run `mautic-mcp doctor`; the server tries again by itself.",
            )
        return None

    async def _discover(self, connection_id: str, intents: Sequence[str], check: Check) -> None:
        """Ask for each intent's actions at once; serve them together, or as they come once the check is slow."""
        check.intents = len(intents)
        live = False
        answered_all = anyio.Event()

        async def one(intent: str) -> None:
            try:
                page = await self.membrane.list_actions(connection_id, intent, self.settings.limit)
            except Exception as error:
                if isinstance(error, MembraneError):
                    log.warning("discovery for intent %s failed: %s", shown(repr(intent)), error.message)
                else:
                    log.exception("discovery for intent %s failed unexpectedly", shown(repr(intent)))
                    error = MembraneError(
                        ErrorCode.FAILED, f"Discovery for intent {intent!r} failed unexpectedly (see the server log)."
                    )
                if intent not in self._cached_intents:  # a page the cache served stays until one replaces it
                    self.pages.pop(intent, None)
                self.failures[intent] = error
            else:
                self.pages[intent] = page
                self.failures.pop(intent, None)
                self._cached_intents.discard(intent)
            check.answered += 1
            if live:
                await self._install()

        async def serve_early() -> None:
            nonlocal live
            with anyio.move_on_after(max(0.0, self.discovery_settle - check.elapsed())):
                await answered_all.wait()
                return
            live = True
            await self._install()

        async with anyio.create_task_group() as group:
            group.start_soon(serve_early)
            async with anyio.create_task_group() as intents_group:
                for intent in intents:
                    intents_group.start_soon(one, intent)
            answered_all.set()
        await self._install()

    async def _install(self) -> None:
        """Serve the tools of what every intent answered; when the listing differs, tell the clients."""
        async with self._install_lock:
            discovery = merge(self.settings.intents, self.pages, self.failures)
            try:
                registry, changed = await anyio.to_thread.run_sync(self._build, discovery.actions, self.registry)
            except Exception:
                log.exception("building tools from the discovered actions failed; the tools stay as they were")
                return
            self.discovery = discovery
            before, self.registry = self.registry, registry
            if changed:
                self.removed = (self.removed | set(before.names())) - set(registry.names())
                self.revision += 1
                await self.changed()

    async def changed(self) -> None:
        """The tool list changed: the protocol layer tells its clients."""

    def _build(self, actions: Sequence[Action], current: ToolRegistry) -> tuple[ToolRegistry, bool]:
        """The registry for `actions` (in a worker thread: a hostile catalog may be slow to build), without
        any tool that could not be written to the wire, and whether its listing differs from `current`'s."""
        registry = build_registry(actions, read_only=self.settings.read_only)
        unsendable = [tool.name for tool in registry if not encodable(tool.tool)]
        if unsendable:
            log.warning(
                "left out %d tool(s) whose definition cannot be encoded as JSON: %s",
                len(unsendable),
                shown(", ".join(unsendable)),
            )
            registry = ToolRegistry([t for t in registry if t.name not in unsendable], hidden=registry.hidden)
        return registry, registry.listing() != current.listing()

    def _log_outcome(self, intents: Sequence[str]) -> None:
        failed = [intent for intent in intents if intent in self.failures]
        log.info(
            "connection %s: %d tools from %d intents (%d failed)",
            shown(self.connection_id),
            len(self.registry),
            len(self.settings.intents),
            len(self.failures),
        )
        if failed:
            log.warning(
                "discovery failed for %s; tried again in the background", shown(", ".join(map(repr, failed)), 400)
            )
        warning = empty_intents_warning(self.discovery)
        if warning:
            log.warning("%s", one_line(warning))

    # --- requests ----------------------------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        return self.registry.listing()

    def checking(self, check: Check) -> str:
        """What the check under way is doing, for a message that asks to try again shortly."""
        if self.connection_id is None:
            before = f" (the check before found: {self.problem.what})" if self.problem is not None else ""
            return (
                f"the server is still checking the Membrane set-up: `{LIST_CONNECTIONS_COMMAND}` has not answered "
                f"after {check.elapsed():.0f} s{before}."
            )
        return (
            f"the server is still discovering Mautic's actions ({check.answered} of {check.intents} intents "
            f"answered after {check.elapsed():.0f} s)."
        )

    async def connection(self) -> str:
        """The connection id, or the MembraneError that says why there is none and how to fix it."""
        if self.connection_id is None:
            await self.settle(connection_only=True)
        if self.connection_id is not None:
            return self.connection_id
        check = self.check
        if check is not None:
            what = self.checking(check)
            raise MembraneError(
                ErrorCode.NO_CONNECTION,
                what[0].upper() + what[1:],
                "Nothing was sent to Mautic. Try again in a few seconds; if it goes on, run `mautic-mcp doctor`.",
            )
        raise self.problem or MembraneError(ErrorCode.NO_CONNECTION, "No Mautic connection is available.")

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None) -> CallToolResult:
        """Run the tool called `name`.

        A name not (yet) known waits briefly for a check under way. Still unknown, it is an
        error result while the set-up is being checked or is broken (the tool may come), else
        `UnknownTool`, whose message suggests the closest names, or says that read-only mode hides the tool.
        """
        tool = self.registry.get(name)
        if tool is None and len(name) <= MAX_TOOL_NAME:
            await self.settle()
            tool = self.registry.get(name)
        if tool is None:
            if name in self.removed:
                return error_result(
                    f"{shown(name)} is no longer offered by Membrane (the catalog changed since the tool list "
                    "was sent, e.g. since the last start); call tools/list for the current tools, or use "
                    "proxy_request. Nothing was sent to Mautic."
                )
            check = self.check
            if check is not None and len(name) <= MAX_TOOL_NAME:
                return error_result(
                    f"{shown(name)} is not available yet: {self.checking(check)} Try again in a few seconds, "
                    "or use proxy_request."
                )
            if self.connection_id is None and self.problem is not None:
                return error_result(f"{shown(name)} is not available: {self.problem.message}")
            raise UnknownTool(self.unknown_tool(name))
        return await call_tool(
            tool,
            arguments,
            membrane=self.membrane,
            connection=self.connection,
            max_chars=self.settings.max_result_chars,
            reconnect=self.reconnect,
        )

    async def reconnect(self, gone: str) -> str:
        """After a call found the connection `gone`: resolve the connection once more and use what it finds.

        Calls that fail together resolve it once: a call that finds it already changed gets the new one.
        Raises the MembraneError that says why there is no connection now.
        """
        async with self._reconnect_lock:
            if self.connection_id is not None and self.connection_id != gone:
                return self.connection_id
            try:
                found = await resolve_connection(self.membrane, self.settings.connection_id)
            except MembraneError as error:
                self.problem = error
                raise
            if found != self.connection_id:
                log.warning("the connection %s is gone; now using %s", shown(gone), shown(found))
                self.connection_id, self.problem = found, None
                await self._save()
            return found

    def unknown_tool(self, name: str) -> str:
        """Why no tool answers to `name`, and what to call instead."""
        if len(name) > MAX_TOOL_NAME:
            return f"Unknown tool: {shown(repr(name), 60)} (longer than any tool name). Call tools/list for the tools."
        hidden = next((n for n in (name, snake_case(name)) if n in self.registry.hidden), None)
        if hidden is not None:
            flags = f"{flag_name('read_only')} / {ENV_NAMES['read_only']}"
            return f"{hidden} is a write tool and this server runs in read-only mode ({flags}); it only reads."
        suggestions = closest(name, self.registry.names())
        if suggestions and snake_case(suggestions[0]) == snake_case(name):
            suggestions = suggestions[:1]
        if suggestions:
            message = f"Unknown tool: {name!r}; did you mean {_either(suggestions)}?"
        else:
            message = f"Unknown tool: {name!r}. Call tools/list for the available tools."
        if self.failures:
            failed = ", ".join(map(repr, self.failures))
            message += (
                f" (Discovery failed for {shown(failed, 200)}; it is tried again in the background, "
                "and the client is told when the tool list changes.)"
            )
        return message


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


def settings_cache_key(settings: Settings, env: Mapping[str, str] | None) -> str:
    """The discovery cache's key for these settings, the CLI run with `env` (None: this process's)."""
    s = settings
    return cache_key(s.cli_command(), s.connection_id, s.intents, s.limit, s.read_only, account_marker(env))


def membrane_for(settings: Settings) -> Membrane:
    command = settings.cli_command()
    runner = Runner(command, timeout=settings.timeout, max_concurrency=settings.max_concurrency)
    program = "membrane-sandbox" if settings.sandbox else settings.membrane_bin
    return Membrane(runner, program=program, sandbox=settings.sandbox)
