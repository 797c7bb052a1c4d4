"""A Membrane action as an MCP tool: its name, schema, hints, and how a call runs."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mcp.types import CallToolResult, Tool, ToolAnnotations

from mautic_mcp.membrane.client import Membrane, MembraneError
from mautic_mcp.tools.naming import assign_names
from mautic_mcp.tools.results import error_result, invalid_arguments, json_result, not_connected
from mautic_mcp.tools.schema import ArgumentsValidator, normalize_input_schema

MAX_DESCRIPTION = 1024
READ_VERBS = frozenset({"list", "get", "search", "find", "read", "fetch", "query", "count", "lookup", "describe"})
DESTRUCTIVE_VERBS = frozenset({"delete", "remove", "destroy", "archive", "unsubscribe", "purge", "clear"})
READ_TYPES = frozenset({"list-data-records", "find-data-record-by-id", "search-data-records"})
RESERVED_NAMES = frozenset({"proxy_request"})


class Kind(StrEnum):
    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"


def action_kind(action: Mapping[str, Any]) -> Kind:
    """Read, write or destructive, from the first verb of the action's key or name."""
    words = _words(str(action.get("key") or "")) or _words(str(action.get("name") or ""))
    verb = words[0] if words else ""
    if verb in DESTRUCTIVE_VERBS:
        return Kind.DESTRUCTIVE
    if verb in READ_VERBS or str(action.get("type") or "") in READ_TYPES:
        return Kind.READ
    return Kind.WRITE


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


@dataclass(frozen=True)
class ActionTool:
    """One discovered action, ready to list and to call."""

    action_id: str
    kind: Kind
    tool: Tool
    validator: ArgumentsValidator

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def required(self) -> list[str]:
        return list(self.tool.input_schema.get("required", []))

    async def call(
        self,
        membrane: Membrane,
        connection: Callable[[], Awaitable[str]],
        arguments: Mapping[str, Any] | None,
        max_chars: int,
    ) -> CallToolResult:
        """Validate, then get the connection, then run: a bad call never starts a process."""
        arguments = {} if arguments is None else arguments
        problems = self.validator.errors(arguments)
        if problems:
            return invalid_arguments(self.name, "; ".join(problems))
        try:
            connection_id = await connection()
        except MembraneError as error:
            return not_connected(self.name, error)
        try:
            output = await membrane.run_action(self.action_id, connection_id, arguments)
        except MembraneError as error:
            return error_result(self.failure_message(error))
        return json_result(output, max_chars)

    def failure_message(self, error: MembraneError) -> str:
        text = f"{self.name} failed: {error.message}"
        if self.kind is not Kind.READ:
            text += error.after_write("a read (a list or get tool)")
        return text


def build_action_tools(actions: Sequence[Mapping[str, Any]], *, read_only: bool) -> list[ActionTool]:
    """Tools for the actions, in the given order; read-only mode keeps read actions only."""
    kept = [a for a in actions if not read_only or action_kind(a) is Kind.READ]
    names = assign_names(kept, reserved=RESERVED_NAMES)
    return [_build(action, name) for action, name in zip(kept, names, strict=True)]


def _build(action: Mapping[str, Any], name: str) -> ActionTool:
    kind = action_kind(action)
    schema = normalize_input_schema(action.get("inputSchema"))
    title = str(action.get("name") or action.get("key") or name)
    return ActionTool(
        action_id=str(action["id"]),
        kind=kind,
        tool=Tool(
            name=name,
            title=title,
            description=describe(action, kind),
            input_schema=schema,
            annotations=ToolAnnotations(
                title=title,
                read_only_hint=kind is Kind.READ,
                destructive_hint=kind is Kind.DESTRUCTIVE,
                idempotent_hint=kind is Kind.READ,
                open_world_hint=True,
            ),
        ),
        validator=ArgumentsValidator(schema),
    )


def describe(action: Mapping[str, Any], kind: Kind) -> str:
    name = " ".join(str(action.get("name") or "").split())
    description = " ".join(str(action.get("description") or "").split())
    text = name if not description or description == name else f"{name}: {description}" if name else description
    if kind is Kind.DESTRUCTIVE:
        text += " (Destructive: cannot be undone.)"
    text = text or f"Run the Mautic action {json.dumps(action.get('key') or action.get('id'))}."
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
