"""Membrane's data schemas made portable, and arguments checked against them.

Membrane speaks a draft-07-like dialect with keys of its own, local `$ref`s and
loose arrays. MCP clients want a plain object schema (Claude Desktop drops the
whole tool list over one it dislikes), and the `mcp` SDK validates nothing, so
the server normalizes what it advertises and validates every call itself.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

MEMBRANE_ONLY_KEYS = frozenset(
    {
        "referenceRecords",
        "referenceCollection",
        "referenceUdm",
        "allowCustom",
        "isImplied",
        "isSensitive",
        "referenceCollectionPath",
        "referenceCollectionUri",
    }
)
JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
TYPE_ALIASES = {"date": "string", "datetime": "string", "date-time": "string", "int": "integer", "float": "number"}
SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SCHEMA_ONE = ("additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
MAX_DEPTH = 64
MAX_MESSAGES = 10
NO_INPUT: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
"""An action without an input schema takes no input: Membrane would drop any field silently."""
ANY_ITEM: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "object"}]}
"""What an array without `items` holds: a single-typed branch per kind, which every client can map."""


def normalize_input_schema(schema: Any) -> dict[str, Any]:
    """Return a schema every client accepts: root object, no `$ref`, no Membrane-only keys."""
    if not isinstance(schema, Mapping) or not schema:
        return dict(NO_INPUT)
    root = copy.deepcopy(dict(schema))
    if "object" in _types(root.get("type")):
        root["type"] = "object"
    resolved = _resolve_refs(root, root, ())
    clean = _clean(resolved)
    clean.pop("$schema", None)
    clean.pop("$id", None)
    if _types(clean.get("type")) - {"object", "null"} and "properties" not in clean:
        return dict(NO_INPUT)
    clean["type"] = "object"
    properties = clean.setdefault("properties", {})
    for name in [n for n, s in properties.items() if isinstance(s, dict) and s.get("readOnly") is True]:
        del properties[name]
    if "required" in clean:
        clean["required"] = [r for r in clean["required"] if r in properties]
        if not clean["required"]:
            del clean["required"]
    if "additionalProperties" not in clean and "patternProperties" not in clean:
        clean["additionalProperties"] = False
    return clean


def _types(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _resolve_refs(node: Any, root: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve_refs(item, root, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = _lookup(root, ref) if ref not in seen else None
        rest = {k: v for k, v in node.items() if k != "$ref"}
        if target is None:
            return _resolve_refs(rest, root, seen) if rest else {}
        merged = {**target, **rest}
        return _resolve_refs(merged, root, (*seen, ref))
    return {key: _resolve_refs(value, root, seen) for key, value in node.items()}


def _lookup(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def _clean(schema: Any) -> dict[str, Any]:
    """Keep standard keywords only, give arrays `items`, and fix unknown `type` names."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in MEMBRANE_ONLY_KEYS or key in ("definitions", "$defs"):
            continue
        if key in SCHEMA_MAPS:
            if isinstance(value, dict):
                out[key] = {name: _without_echo(name, _clean(sub)) for name, sub in value.items()}
        elif key in SCHEMA_LISTS:
            if isinstance(value, list):
                out[key] = [_clean(sub) for sub in value if isinstance(sub, dict)]
        elif key == "items":
            if isinstance(value, list):
                out["prefixItems"] = [_clean(sub) for sub in value if isinstance(sub, dict)]
            else:
                out[key] = _clean(value)
        elif key in SCHEMA_ONE:
            out[key] = value if isinstance(value, bool) else _clean(value)
        elif key == "type":
            fixed = _fix_type(value)
            if fixed is not None:
                out[key] = fixed
        elif key == "required":
            if isinstance(value, list):
                out[key] = list(dict.fromkeys(v for v in value if isinstance(v, str)))
        else:
            out[key] = value
    if "array" in _types(out.get("type")) and "items" not in out and "prefixItems" not in out:
        out["items"] = dict(ANY_ITEM)
    if isinstance(out.get("type"), list):
        branches = [{"type": name} for name in out.pop("type")]
        out = {**out, "anyOf": branches} if "anyOf" not in out else {**out, "allOf": [{"anyOf": branches}]}
    return out


def _without_echo(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Drop a description that only repeats its property's name (`firstname`: "Firstname"): tokens for nothing."""
    description = schema.get("description")
    if isinstance(description, str) and _bare(description) == _bare(name):
        return {k: v for k, v in schema.items() if k != "description"}
    return schema


def _bare(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _fix_type(value: Any) -> str | list[str] | None:
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    fixed = list(dict.fromkeys(TYPE_ALIASES.get(n, n) for n in names if isinstance(n, str)))
    fixed = [n for n in fixed if n in JSON_TYPES]
    if not fixed:
        return None
    return fixed[0] if len(fixed) == 1 else fixed


class ArgumentsValidator:
    """Checks a call's arguments and says, per field, what is wrong and what is expected."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = Draft202012Validator(schema)

    def errors(self, arguments: Any) -> list[str]:
        if not isinstance(arguments, dict):
            return [f"arguments must be a JSON object, got {_json_type(arguments)}"]
        if _depth(arguments) > MAX_DEPTH:
            return [f"arguments are nested more than {MAX_DEPTH} levels deep"]
        try:
            found = sorted(self._validator.iter_errors(arguments), key=_error_order)
        except RecursionError:
            return ["arguments are nested too deeply to check"]
        messages = list(dict.fromkeys(self._describe(error) for error in found))
        if len(messages) > MAX_MESSAGES:
            messages = [*messages[:MAX_MESSAGES], f"… and {len(messages) - MAX_MESSAGES} more problems"]
        return messages

    def _describe(self, error: ValidationError) -> str:
        where = _field(error.absolute_path)
        instance = error.instance
        kind = error.validator
        expected: Any = error.validator_value
        if kind == "required" and isinstance(instance, dict):
            missing = [name for name in expected if name not in instance]
            return "; ".join(f"{_field([*error.absolute_path, m])}: required field is missing" for m in missing)
        if kind == "additionalProperties" and isinstance(instance, dict):
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            accepted = sorted((schema.get("properties") or {}).keys())
            unknown = sorted(k for k in instance if k not in accepted)
            scope = f" in {where}" if error.absolute_path else ""
            return (
                f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}{scope}; "
                f"accepted fields: {', '.join(accepted) or 'none'}"
            )
        if kind == "type":
            expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
            return f"{where}: expected {expected_text}, got {_json_type(instance)}"
        if kind == "enum":
            options = ", ".join(json.dumps(v) for v in expected)
            return f"{where}: must be one of {_cut(options)}"
        if kind == "const":
            return f"{where}: must be {_cut(json.dumps(error.validator_value))}"
        if kind in {"maxLength", "minLength"}:
            length = len(instance) if isinstance(instance, str) else "?"
            bound = "at most" if kind == "maxLength" else "at least"
            return f"{where}: must be {bound} {error.validator_value} characters long, got {length}"
        if kind in {"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"}:
            return f"{where}: must be {_BOUNDS[kind]} {error.validator_value}, got {_cut(repr(instance))}"
        if kind in {"maxItems", "minItems"}:
            bound = "at most" if kind == "maxItems" else "at least"
            count = len(instance) if isinstance(instance, list) else "?"
            return f"{where}: must have {bound} {error.validator_value} items, got {count}"
        if kind == "format":
            return f"{where}: must be a valid {error.validator_value}"
        if kind in {"anyOf", "oneOf"}:
            return f"{where}: does not match any of the accepted forms"
        return f"{where}: {_cut(error.message)}"


_BOUNDS = {
    "maximum": "at most",
    "minimum": "at least",
    "exclusiveMaximum": "less than",
    "exclusiveMinimum": "greater than",
}


def _error_order(error: ValidationError) -> tuple[str, str]:
    return ("/".join(map(str, error.absolute_path)), str(error.validator))


def _field(path: Any) -> str:
    parts = list(path)
    if not parts:
        return "arguments"
    text = str(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"'{text}'"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth, counted without recursion and stopping early past the limit."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
