"""An entry of Membrane's action catalog, typed at the edge.

Anyone in a Membrane workspace can write an action, so an entry is read
tolerantly: text fields become strings, schemas stay as given (or None), and an
entry without an id is not an action at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
        action_id = _text(entry.get("id"))
        if not action_id:
            return None
        return cls(
            id=action_id,
            key=_text(entry.get("key")),
            name=_text(entry.get("name")),
            description=_text(entry.get("description")),
            type=_text(entry.get("type")),
            input_schema=entry.get("inputSchema"),
            output_schema=entry.get("outputSchema"),
        )


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)
