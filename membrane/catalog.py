"""An entry of Membrane's action catalog, typed at the edge.

Anyone in a Membrane workspace can write an action, so an entry is read
tolerantly and bounded: text fields become strings (lone surrogates repaired,
lengths capped), schemas keep their shape with long titles and descriptions cut
and oversized enums dropped, and an entry without a usable id is not an action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mautic_mcp.membrane.output import TOO_DEEP, clip, made_safe, repair_text

MAX_ID_CHARS: Final = 200
MAX_KEY_CHARS: Final = 200
MAX_NAME_CHARS: Final = 200
MAX_DESCRIPTION_CHARS: Final = 2_000
"""Clients cut tool descriptions near 2,048 characters (Claude Code)."""
MAX_SCHEMA_TITLE_CHARS: Final = 200
MAX_SCHEMA_DESCRIPTION_CHARS: Final = 1_000
MAX_ENUM_VALUES: Final = 200
MAX_ENUM_VALUE_CHARS: Final = 200
"""An enum over these is dropped, not cut: a cut enum would refuse values Mautic accepts."""

_UNUSABLE_ID: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Action:
    """One catalog action: what to call it, what it takes and what it gives."""

    id: str
    key: str
    name: str
    description: str
    type: str
    input_schema: Any
    output_schema: Any

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Action | None:
        """The action an `action list` entry describes, or None when it has no usable id."""
        action_id = _text(entry.get("id"), MAX_ID_CHARS + 1)
        if not action_id or len(action_id) > MAX_ID_CHARS or _UNUSABLE_ID.search(action_id):
            return None
        return cls(
            id=action_id,
            key=_text(entry.get("key"), MAX_KEY_CHARS),
            name=_text(entry.get("name"), MAX_NAME_CHARS),
            description=_text(entry.get("description"), MAX_DESCRIPTION_CHARS),
            type=_text(entry.get("type"), MAX_NAME_CHARS),
            input_schema=bounded_schema(entry.get("inputSchema")),
            output_schema=bounded_schema(entry.get("outputSchema")),
        )


def _text(value: Any, limit: int) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return clip(repair_text(str(value)), limit)


def bounded_schema(schema: Any) -> Any:
    """A copy of `schema` that later stages can afford: surrogates repaired, text capped, huge enums dropped.

    A schema nested deeper than the parser allows is no schema at all (None).
    """
    safe = made_safe(schema)
    if safe is TOO_DEEP:
        return None
    return _bounded(safe)


def _bounded(node: Any) -> Any:
    if isinstance(node, list):
        return [_bounded(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[Any, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            out[key] = _text(value, MAX_SCHEMA_TITLE_CHARS)
        elif key == "description" and isinstance(value, str):
            out[key] = _text(value, MAX_SCHEMA_DESCRIPTION_CHARS)
        elif key == "enum" and isinstance(value, list) and not _affordable_enum(value):
            continue
        else:
            out[key] = _bounded(value)
    return out


def _affordable_enum(values: list[Any]) -> bool:
    return len(values) <= MAX_ENUM_VALUES and all(
        not isinstance(value, str | dict | list) or len(value) <= MAX_ENUM_VALUE_CHARS for value in values
    )
