"""A Membrane action as an MCP tool: its name, schema, hints, and how a call runs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.types import Tool, ToolAnnotations

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import MembraneError
from mautic_mcp.tools.naming import assign_names
from mautic_mcp.tools.schema import ArgumentsValidator, normalize_input_schema
from mautic_mcp.tools.tool import InvalidArguments, Kind

MAX_DESCRIPTION = 1024
READ_VERBS = frozenset({"list", "get", "search", "find", "read", "fetch", "query", "count", "lookup", "describe"})
DESTRUCTIVE_VERBS = frozenset({"delete", "remove", "destroy", "archive", "unsubscribe", "purge", "clear"})
READ_TYPES = frozenset({"list-data-records", "find-data-record-by-id", "search-data-records"})


def action_kind(action: Action) -> Kind:
    """Read, write or destructive, from the first verb of the action's key or name."""
    words = _words(action.key) or _words(action.name)
    verb = words[0] if words else ""
    if verb in DESTRUCTIVE_VERBS:
        return Kind.DESTRUCTIVE
    if verb in READ_VERBS or action.type in READ_TYPES:
        return Kind.READ
    return Kind.WRITE


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


@dataclass(frozen=True)
class ActionTool:
    """One discovered action, ready to list and to call; its prepared call is the arguments object."""

    action_id: str
    kind: Kind
    tool: Tool
    validator: ArgumentsValidator

    @property
    def name(self) -> str:
        return self.tool.name

    def validate(self, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        problems = self.validator.errors(arguments)
        if problems:
            raise InvalidArguments("; ".join(problems))
        return arguments

    async def run(self, membrane: Membrane, connection_id: str, call: Mapping[str, Any]) -> Any:
        return await membrane.run_action(self.action_id, connection_id, call)

    def failure(self, call: Mapping[str, Any], error: MembraneError) -> str:
        text = f"{self.name} failed: {error.message}"
        if self.kind is not Kind.READ:
            text += error.after_write("a read (a list or get tool)")
        return text


def build_action_tools(actions: Sequence[Action], *, read_only: bool, reserved: frozenset[str]) -> list[ActionTool]:
    """Tools for the actions, in the given order; read-only mode keeps read actions only."""
    kept = [a for a in actions if not read_only or action_kind(a) is Kind.READ]
    names = assign_names(kept, reserved=reserved)
    return [_build(action, name) for action, name in zip(kept, names, strict=True)]


def _build(action: Action, name: str) -> ActionTool:
    kind = action_kind(action)
    schema = normalize_input_schema(action.input_schema)
    title = action.name or action.key or name
    return ActionTool(
        action_id=action.id,
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


def describe(action: Action, kind: Kind) -> str:
    name = " ".join(action.name.split())
    description = " ".join(action.description.split())
    text = name if not description or description == name else f"{name}: {description}" if name else description
    if kind is Kind.DESTRUCTIVE:
        text += " (Destructive: cannot be undone.)"
    text = text or f"Run the Mautic action {json.dumps(action.key or action.id)}."
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
