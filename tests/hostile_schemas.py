"""Schemas a hostile catalog can hold, shared by the unit tests and the hardening suite."""

from __future__ import annotations

from typing import Any


def exponential(levels: int) -> dict[str, Any]:
    """Each definition refers to the next twice: inlined naively, 2**levels copies."""
    defs: dict[str, Any] = {
        f"d{n}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/d{n + 1}"}, "b": {"$ref": f"#/$defs/d{n + 1}"}},
        }
        for n in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {"type": "object", "properties": {"tree": {"$ref": "#/$defs/d0"}, "id": {"type": "integer"}}, "$defs": defs}


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"inner": node}}
    return {"type": "object", "properties": {"id": {"type": "integer"}, "deep": node}}
