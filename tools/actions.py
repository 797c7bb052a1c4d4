"""A Membrane action as an MCP tool: its name, schema, hints, and how a call runs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mcp_types import Tool

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import MembraneError
from mautic_mcp.membrane.output import clip
from mautic_mcp.tools.naming import assign_names, words
from mautic_mcp.tools.schema import normalize
from mautic_mcp.tools.shaping import (
    FittedList,
    ListAnswer,
    compact,
    fit_list,
    fit_value,
    off_loop_if_large,
    render_list,
    split_list,
)
from mautic_mcp.tools.tool import InvalidArguments, Kind, Reread, hints_for
from mautic_mcp.tools.validation import ArgumentsValidator

log = logging.getLogger(__name__)


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
"""The kind a key says by its first word."""
WRITE_WORDS: dict[str, Kind] = {
    **dict.fromkeys(
        ("create", "add", "insert", "attach", "subscribe", "import", "clone", "duplicate", "upload"), Kind.ADD
    ),
    **dict.fromkeys(
        (
            "update", "set", "change", "edit", "modify", "patch", "rename", "move", "upsert", "merge", "replace",
            "assign", "unassign", "publish", "unpublish", "enable", "disable", "reset", "mark", "save", "write",
            "put", "post", "increment", "decrement", "apply", "approve", "cancel", "archive", "restore",
        ),
        Kind.UPDATE,
    ),
    **dict.fromkeys(("remove", "detach", "unsubscribe", "unlink", "clear"), Kind.REMOVE),
    **dict.fromkeys(("delete", "destroy", "purge", "erase", "wipe", "truncate", "drop"), Kind.DELETE),
    **dict.fromkeys(("send", "trigger", "execute", "notify", "dispatch", "deliver"), Kind.SEND),
}  # fmt: skip
"""Words that make an action a write wherever they stand in its key, name or type (`get-or-create-x`).

Words that are also common nouns in read keys (`record`, `log`, `email`, `new`, `run`) count
only as the first word, through VERB_KINDS.
"""
READ_TYPES = frozenset({"list-data-records", "find-data-record-by-id", "search-data-records"})


def action_kind(action: Action) -> Kind:
    """What the action does; a read only when nothing about it says it writes.

    The catalog is untrusted and a key can start with a read verb and still write
    (`find-or-create-contact`, `getAndDeleteContact`). So every word of the key, the
    name and the Membrane type counts: any write word makes a write, and the kind is
    the strongest one found (a deletion wins). A read is a read verb first, or a read
    type, with no write word anywhere; anything else is a write of unknown kind.
    """
    key, name, of_type = (words(text) for text in (action.key, action.name, action.type))
    found = {WRITE_WORDS[word] for word in (*key, *name, *of_type) if word in WRITE_WORDS}
    firsts = [own[0] for own in (key, name) if own]
    first = next((VERB_KINDS[word] for word in firsts if word in VERB_KINDS), None)
    if first is not None and first is not Kind.READ:
        found.add(first)
    if found:
        return _strongest(found)
    if first is Kind.READ or action.type in READ_TYPES:
        return Kind.READ
    return Kind.WRITE


def _strongest(kinds: set[Kind]) -> Kind:
    """One kind for several: the only one, a deletion over anything, create-or-update as an update, else a write."""
    if len(kinds) == 1:
        return next(iter(kinds))
    if Kind.DELETE in kinds:
        return Kind.DELETE
    if kinds == {Kind.ADD, Kind.UPDATE}:
        return Kind.UPDATE
    return Kind.WRITE


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
        """`check` in this thread, for a caller that cannot await; it takes as long as the schema's patterns take."""
        return _checked(arguments, self.validator.errors(arguments))

    async def check(self, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        return _checked(arguments, await self.validator.check(arguments))

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
        """A read's list pages on from the first record not shown; anything else is fitted as it is.

        The fitting is CPU work that grows with the answer (a 15 MB one takes a good part of a
        second), so it runs in a worker thread and the event loop keeps serving; only the
        re-reads are awaited here.
        """
        first = await off_loop_if_large(answer, self._fit, call, answer, max_chars)
        if isinstance(first, str):
            return first
        fitted, of = first
        # Paged by cursor only: read again just the records that fit, so the cursor
        # that comes back points at the first record not shown.
        for _ in range(REREADS):
            try:
                again = await reread({**call, "limit": fitted.shown})
            except MembraneError:
                break
            step = await off_loop_if_large(again, self._refit, call, again, max_chars, of)
            if step is None:
                break
            if isinstance(step, str):
                return step
            fitted = step
        return render_list(
            fitted, of=of, next_arguments=None, max_chars=max_chars, more="ask for a lower limit to see the rest"
        )

    def _fit(self, call: Mapping[str, Any], answer: Any, max_chars: int) -> str | tuple[FittedList, int]:
        """The text to send, or a page paged by cursor only that did not fit (and its record count): re-read it."""
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
            return fitted, of
        return render_list(
            fitted, of=of, next_arguments=None, max_chars=max_chars, more="ask for a lower limit to see the rest"
        )

    def _refit(self, call: Mapping[str, Any], answer: Any, max_chars: int, of: int) -> str | FittedList | None:
        """A re-read page: its text when all of it fits, the records that fit when not, None when it is no list."""
        again = split_list(answer)
        if again is None:
            return None
        refitted = fit_list(again, max_chars, self._reader, next_size=len(compact(call)) + 40)
        if refitted.shown == len(again.rows):
            return render_list(refitted, of=of, next_arguments=self._after(call, again.cursor), max_chars=max_chars)
        return refitted

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


class ActionTools(list[ActionTool]):
    """The tools built, in the catalog's order, and `hidden`: the write tools read-only mode left out, by name."""

    def __init__(self, tools: Iterable[ActionTool], hidden: Iterable[str] = ()) -> None:
        super().__init__(tools)
        self.hidden = tuple(hidden)


def build_action_tools(actions: Sequence[Action], *, read_only: bool, reserved: frozenset[str]) -> ActionTools:
    """Tools for the actions, in the given order; read-only mode builds read actions only.

    Names are given over all the actions in both modes, so a tool is called the same
    whether or not the server is read-only, and a write tool read-only mode leaves out
    is named in `hidden` (without its schema being looked at). One action whose schema
    cannot be made usable is left out, with a WARNING naming it; it never stops the
    other tools from being built.
    """
    names = assign_names(actions, reserved=reserved)
    kinds = [action_kind(action) for action in actions]
    planned = list(zip(actions, names, kinds, strict=True))
    kept = [(action, name, kind) for action, name, kind in planned if not read_only or kind is Kind.READ]
    hidden = [name for _, name, kind in planned if read_only and kind is not Kind.READ]
    tools = [tool for action, name, kind in kept if (tool := _build_or_skip(action, name, kind))]
    getters = {tool.name: argument for tool in tools if (argument := _id_argument(tool)) is not None}
    return ActionTools([replace(tool, full_record=_full_record(tool, getters)) for tool in tools], hidden=hidden)


def _build_or_skip(action: Action, name: str, kind: Kind) -> ActionTool | None:
    try:
        return _build(action, name, kind)
    except Exception as error:  # a hostile schema (RecursionError and the like) costs this action only
        log.warning(
            "action %s (%s) left out: its input schema could not be used (%s: %s)",
            name,
            _short_id(action.id),
            type(error).__name__,
            str(error)[:200],
        )
        return None


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


def _build(action: Action, name: str, kind: Kind) -> ActionTool:
    normalized = normalize(action.input_schema)
    if normalized.notes:
        notes = "; ".join(normalized.notes)
        log.warning("action %s (%s): input schema changed to be usable: %s", name, _short_id(action.id), notes)
    # The catalog (Action.from_entry) has repaired the action's text and capped it: a name or key
    # at MAX_NAME_CHARS (200), a description at MAX_DESCRIPTION_CHARS (2,000).
    title = " ".join((action.name or action.key or name).split())
    return ActionTool(
        action_id=action.id,
        kind=kind,
        tool=Tool(
            name=name,
            title=title,
            description=describe(action, kind),
            input_schema=normalized.schema,
            annotations=hints_for(kind),
        ),
        validator=ArgumentsValidator(normalized.schema),
    )


def _short_id(action_id: str) -> str:
    return repr(action_id if len(action_id) <= 60 else action_id[:59] + "…")


def _checked(arguments: Mapping[str, Any], problems: list[str]) -> Mapping[str, Any]:
    if problems:
        raise InvalidArguments("; ".join(problems))
    return arguments


def describe(action: Action, kind: Kind) -> str:
    """The action's description, said once: the title already carries its name."""
    text = " ".join(action.description.split()) or " ".join(action.name.split())
    text = text or f"Run the Mautic action {json.dumps(action.key or action.id)}."
    if kind is Kind.DELETE:
        text += " Cannot be undone."
    return clip(text, MAX_DESCRIPTION)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
