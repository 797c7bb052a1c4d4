"""A Membrane action as an MCP tool: its name, schema, hints, and how a call runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.types import Tool

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import MembraneError
from mautic_mcp.tools.naming import assign_names, snake_case
from mautic_mcp.tools.schema import ArgumentsValidator, normalize_input_schema
from mautic_mcp.tools.tool import InvalidArguments, Kind, hints_for

MAX_DESCRIPTION = 1024
VERB_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        ("list", "get", "search", "find", "read", "fetch", "query", "count", "lookup", "describe", "show"), Kind.READ
    ),
    **dict.fromkeys(("create", "add", "new", "insert", "attach", "subscribe", "log", "record", "track"), Kind.ADD),
    **dict.fromkeys(("update", "set", "change", "edit", "modify", "patch", "rename", "move", "upsert"), Kind.UPDATE),
    **dict.fromkeys(("remove", "detach", "unsubscribe", "unlink"), Kind.REMOVE),
    **dict.fromkeys(("delete", "destroy", "purge", "erase"), Kind.DELETE),
    **dict.fromkeys(("send", "trigger", "execute", "run", "notify", "email"), Kind.SEND),
}
READ_TYPES = frozenset({"list-data-records", "find-data-record-by-id", "search-data-records"})


def action_kind(action: Action) -> Kind:
    """What the action does, from the first verb of its key (or name), else from its Membrane type."""
    for text in (action.key, action.name):
        verb = snake_case(text).split("_")[0] if text.strip() else ""
        if verb in VERB_KINDS:
            return VERB_KINDS[verb]
    return Kind.READ if action.type in READ_TYPES else Kind.WRITE


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
            annotations=hints_for(kind),
        ),
        validator=ArgumentsValidator(schema),
    )


def describe(action: Action, kind: Kind) -> str:
    """The action's description, said once: the title already carries its name."""
    text = " ".join(action.description.split()) or " ".join(action.name.split())
    text = text or f"Run the Mautic action {json.dumps(action.key or action.id)}."
    if kind is Kind.DELETE:
        text += " Cannot be undone."
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
