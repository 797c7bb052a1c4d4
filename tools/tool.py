"""What every tool of this server is, and the one way a call to any of them runs.

A tool checks its arguments into a prepared call, runs that call through the
Membrane client, and words its own failures. `call_tool` holds the order every
call follows: validate → connection → run → shape. A call that fails validation
never asks for the connection, so a bad call never starts a process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from mcp_types import CallToolResult, Tool, ToolAnnotations

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import ErrorCode, MembraneError
from mautic_mcp.tools.results import error_result, invalid_arguments, not_connected, text_result
from mautic_mcp.tools.shaping import cut_text

CallT = TypeVar("CallT")
CONNECTION_GONE = frozenset({ErrorCode.CONNECTION_NOT_FOUND, ErrorCode.CONNECTION_DEFUNCT})
"""A call failed this way may have used a connection that no longer exists: the connection is resolved again."""
Reread = Callable[[CallT], Awaitable[Any]]


class Kind(StrEnum):
    """What a tool does to the data; its MCP hints and read-only mode follow from this alone."""

    READ = "read"
    ADD = "add"
    """Creates or adds: nothing is overwritten, and calling twice adds twice."""
    UPDATE = "update"
    """Overwrites fields: what was there is lost, and calling twice ends the same."""
    REMOVE = "remove"
    """Takes a record out of a list or relation; it can be added back."""
    DELETE = "delete"
    """Deletes for good."""
    SEND = "send"
    """Sends something out: calling twice sends twice."""
    WRITE = "write"
    """Any change, not known which: hinted as the MCP defaults say (destructive, not idempotent)."""


HINTS: dict[Kind, tuple[bool, bool]] = {
    Kind.ADD: (False, False),
    Kind.UPDATE: (True, True),
    Kind.REMOVE: (True, True),
    Kind.DELETE: (True, True),
    Kind.SEND: (False, False),
    Kind.WRITE: (True, False),
}
"""Per writing kind: destructiveHint and idempotentHint, as the MCP definitions of the hints read."""


def hints_for(kind: Kind) -> ToolAnnotations:
    """The hints the spec gives a meaning: a read says only that; openWorldHint is left at its default, true."""
    if kind is Kind.READ:
        return ToolAnnotations(read_only_hint=True)
    destructive, idempotent = HINTS[kind]
    return ToolAnnotations(read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent)


class InvalidArguments(ValueError):
    """Arguments refused before anything is sent; the message names each field and what it expects."""


class ServerTool(Protocol[CallT]):
    """One MCP tool backed by the Membrane CLI."""

    @property
    def name(self) -> str: ...

    @property
    def tool(self) -> Tool:
        """The MCP `Tool` that `tools/list` advertises."""
        ...

    @property
    def kind(self) -> Kind: ...

    async def check(self, arguments: Mapping[str, Any]) -> CallT:
        """The prepared call, or InvalidArguments saying what is wrong.

        A check that could take long (a pattern, very large arguments) runs off the event loop, under a deadline.
        """
        ...

    async def run(self, membrane: Membrane, connection_id: str, call: CallT) -> Any:
        """The answer: a JSON value, or text when the CLI printed no JSON."""
        ...

    def failure(self, call: CallT, error: MembraneError) -> str:
        """The message for a failed run: what failed, what to do, and for a write whether it was made."""
        ...

    async def present(self, call: CallT, answer: Any, max_chars: int, reread: Reread[CallT]) -> str:
        """The JSON answer as text within `max_chars`; a list says in `next` how to get its next record.

        `reread` runs another call of the same tool; only a read may use it. The fitting
        grows with the answer, so it runs in a worker thread, never on the event loop.
        """
        ...


async def call_tool(
    tool: ServerTool[Any],
    arguments: Mapping[str, Any] | None,
    *,
    membrane: Membrane,
    connection: Callable[[], Awaitable[str]],
    max_chars: int,
    reconnect: Callable[[str], Awaitable[str]] | None = None,
) -> CallToolResult:
    """Validate, then get the connection, then run, then present the answer within `max_chars`.

    A run that finds the connection gone has `reconnect` resolve it once: a read runs once more on a
    new connection; a write is never sent again, its failure says what the connection is now.
    """
    try:
        call = await tool.check({} if arguments is None else arguments)
    except InvalidArguments as problem:
        return invalid_arguments(tool.name, str(problem))
    try:
        connection_id = await connection()
    except MembraneError as error:
        return not_connected(tool.name, error)
    try:
        answer = await tool.run(membrane, connection_id, call)
    except MembraneError as error:
        if reconnect is None or error.code not in CONNECTION_GONE:
            return error_result(tool.failure(call, error))
        again = await _on_a_new_connection(tool, call, error, membrane, connection_id, reconnect)
        if isinstance(again, CallToolResult):
            return again
        connection_id, answer = again
    if isinstance(answer, str):
        return text_result(cut_text(answer, max_chars))

    async def reread(again: Any) -> Any:
        return await tool.run(membrane, connection_id, again)

    return text_result(await tool.present(call, answer, max_chars, reread))


async def _on_a_new_connection(
    tool: ServerTool[Any],
    call: Any,
    error: MembraneError,
    membrane: Membrane,
    gone: str,
    reconnect: Callable[[str], Awaitable[str]],
) -> tuple[str, Any] | CallToolResult:
    """The connection `gone` failed: resolve it once; a read runs again on a new one, a write is never resent."""
    try:
        found = await reconnect(gone)
    except MembraneError as again:
        return error_result(f"{tool.failure(call, error)} Looking for the connection again: {again.message}")
    if found == gone:
        return error_result(f"{tool.failure(call, error)} Membrane still lists the connection {gone}.")
    if tool.kind is not Kind.READ:
        return error_result(
            f"{tool.failure(call, error)} The connection {gone} is gone; the server now uses "
            f"{found}. This write was not sent again: check with a read, then call again if it is still needed."
        )
    try:
        return found, await tool.run(membrane, found, call)
    except MembraneError as error_again:
        return error_result(tool.failure(call, error_again))
