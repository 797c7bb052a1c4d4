"""A Membrane action as an MCP tool: its name, schema, hints, and how a call runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mcp.types import Tool

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import MembraneError
from mautic_mcp.tools.naming import assign_names, snake_case
from mautic_mcp.tools.schema import ArgumentsValidator, normalize_input_schema
from mautic_mcp.tools.shaping import ListAnswer, compact, fit_list, fit_value, render_list, split_list
from mautic_mcp.tools.tool import InvalidArguments, Kind, Reread, hints_for

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


OFFSET_KEYS = ("start", "offset")
CURSOR_KEYS = ("cursor",)
REREADS = 3


@dataclass(frozen=True)
class ActionTool:
    """One discovered action, ready to list and to call; its prepared call is the arguments object."""

    action_id: str
    kind: Kind
    tool: Tool
    validator: ArgumentsValidator
    full_record: tuple[str, str] | None = None
    """The tool and argument that read one of this list's records in full: ("get_email", "id")."""

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

    async def present(
        self, call: Mapping[str, Any], answer: Any, max_chars: int, reread: Reread[Mapping[str, Any]]
    ) -> str:
        """A read's list pages on from the first record not shown; anything else is fitted as it is."""
        listing = split_list(answer) if self.kind is Kind.READ else None
        if listing is None:
            return fit_value(answer, max_chars)
        of = len(listing.rows)
        fitted = fit_list(listing, max_chars, self._reader, next_size=len(compact(call)) + 40)
        if fitted.shown == of:
            return render_list(fitted, of=of, next_arguments=self._next_page(call, listing), max_chars=max_chars)
        offset = self._offset_key(call)
        if offset is not None:
            start = _count(call.get(offset)) + fitted.shown
            return render_list(fitted, of=of, next_arguments={**call, offset: start}, max_chars=max_chars)
        if "limit" in self._properties and any(key in self._properties for key in CURSOR_KEYS):
            # Paged by cursor only: read again just the records that fit, so the cursor
            # that comes back points at the first record not shown.
            for _ in range(REREADS):
                try:
                    again = split_list(await reread({**call, "limit": fitted.shown}))
                except MembraneError:
                    break
                if again is None:
                    break
                refitted = fit_list(again, max_chars, self._reader, next_size=len(compact(call)) + 40)
                if refitted.shown == len(again.rows):
                    return render_list(
                        refitted, of=of, next_arguments=self._after(call, again.cursor), max_chars=max_chars
                    )
                fitted = refitted
        return render_list(
            fitted, of=of, next_arguments=None, max_chars=max_chars, more="ask for a lower limit to see the rest"
        )

    @property
    def _properties(self) -> Mapping[str, Any]:
        properties = self.tool.input_schema.get("properties")
        return properties if isinstance(properties, Mapping) else {}

    def _offset_key(self, call: Mapping[str, Any]) -> str | None:
        """The offset argument this call pages by, when it does (a cursor in the call wins over an offset)."""
        if any(call.get(key) for key in CURSOR_KEYS):
            return None
        return next((key for key in OFFSET_KEYS if key in self._properties), None)

    def _next_page(self, call: Mapping[str, Any], listing: ListAnswer) -> dict[str, Any] | None:
        """After a whole page: the cursor it gave, else the offset after it while records remain."""
        if listing.cursor is not None and any(key in self._properties for key in CURSOR_KEYS):
            return self._after(call, listing.cursor)
        offset = self._offset_key(call)
        shown = len(listing.rows)
        if offset is not None and listing.total is not None and shown:
            start = _count(call.get(offset)) + shown
            if start < listing.total:
                return {**call, offset: start}
        return None

    @staticmethod
    def _after(call: Mapping[str, Any], cursor: str | None) -> dict[str, Any] | None:
        if cursor is None:
            return None
        kept = {key: value for key, value in call.items() if key not in OFFSET_KEYS}
        return {**kept, "cursor": cursor}

    def _reader(self, record: Any) -> str | None:
        if self.full_record is None or not isinstance(record, Mapping) or record.get("id") is None:
            return None
        name, argument = self.full_record
        return f"{name} {compact({argument: record['id']})}"


def build_action_tools(actions: Sequence[Action], *, read_only: bool, reserved: frozenset[str]) -> list[ActionTool]:
    """Tools for the actions, in the given order; read-only mode keeps read actions only."""
    kept = [a for a in actions if not read_only or action_kind(a) is Kind.READ]
    names = assign_names(kept, reserved=reserved)
    tools = [_build(action, name) for action, name in zip(kept, names, strict=True)]
    getters = {tool.name: argument for tool in tools if (argument := _id_argument(tool)) is not None}
    return [replace(tool, full_record=_full_record(tool, getters)) for tool in tools]


def _id_argument(tool: ActionTool) -> str | None:
    """The one required argument of a `get_<thing>` read tool, when it is an id."""
    required = tool.tool.input_schema.get("required") or []
    if tool.kind is Kind.READ and tool.name.startswith("get_") and list(required) in (["id"], [f"{tool.name[4:]}Id"]):
        return str(required[0])
    return None


def _full_record(tool: ActionTool, getters: Mapping[str, str]) -> tuple[str, str] | None:
    """For a list tool, the get tool of the thing it lists: `list_contact_notes` → `get_note`."""
    if tool.kind is not Kind.READ:
        return None
    for word in tool.name.split("_"):
        if len(word) > 3 and word.endswith("s"):
            for singular in (word[:-1], word[:-2], word[:-3] + "y"):
                getter = f"get_{singular}"
                if getter in getters and getter != tool.name:
                    return getter, getters[getter]
            return None
    return None


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


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
