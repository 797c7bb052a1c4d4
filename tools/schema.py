"""Membrane's data schemas made portable, bounded and valid, for clients and for checking calls.

Membrane speaks a draft-07-like dialect with keys of its own, local `$ref`s and
loose arrays. MCP clients want a plain object schema (Claude Desktop drops the
whole tool list over one it dislikes), and the `mcp` SDK validates nothing, so
the server normalizes what it advertises and validates every call itself.

The catalog is untrusted: anyone in a Membrane workspace can write an action. So
normalization keeps standard keywords only (no remote, dynamic or anchored
reference survives, so nothing is ever fetched), inlines local `$ref`s within a
node budget and a depth bound, caps the text and values it advertises, and
repairs what the Draft 2020-12 metaschema refuses, so that a bad keyword costs
that keyword, not every call of the tool. Each change is noted for the log.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urljoin

from jsonschema import Draft202012Validator

# jsonschema's own copy of the metaschemas (it comes with jsonschema, untyped).
from jsonschema_specifications import REGISTRY as SPECIFICATIONS  # type: ignore[import-untyped]

from mautic_mcp.membrane.output import clip, repair_text

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
TYPE_ALIASES = {"date": "string", "datetime": "string", "date-time": "string", "int": "integer", "float": "number"}
SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SCHEMA_ONE = (
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "items",
)
# Any keyword not named below is dropped: Membrane-only keys (`isSensitive`, `referenceRecords`, ...),
# vendor keys, `$dynamicRef`, `$anchor` and the like, which no client needs and which could make a
# validator fetch or loop.
SCALARS = frozenset(
    {
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "uniqueItems",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
TEXTS: Final = {"title": 200, "description": 500, "format": 40, "contentEncoding": 40, "contentMediaType": 100}
"""Text keywords and the most characters each keeps: longer titles and descriptions are cut, other texts dropped."""
MAX_PATTERN: Final = 1_000
"""A longer `pattern` is dropped: it is advertised and compiled, and no real field needs one."""
MAX_ENUM: Final = 500
"""An `enum` with more values is dropped (the field stays typed): it would swamp the tool list."""
MAX_VALUE_CHARS: Final = {"enum": 20_000, "const": 2_000, "default": 1_000, "examples": 2_000}
"""The most characters each value keyword may take as JSON; a longer one is dropped."""
MAX_NAME: Final = 256
"""A property whose name is longer is dropped."""
MAX_SCHEMA_DEPTH: Final = 64
"""Subschemas nested deeper become `{}` (any value); real Membrane schemas nest a few levels."""
MAX_VALUE_DEPTH: Final = 16
NODE_BUDGET: Final = 10_000
"""Schema and value nodes one input schema may expand to, its `$ref`s inlined; past it, subtrees become `{}`."""
MAX_REF_PATH: Final = 64
"""References followed one inside another, at most; a chain longer is cut there."""
MAX_REPAIRS: Final = 20
MAX_BRANCH_DEPTH: Final = 8
MAX_NOTES: Final = 12
NO_INPUT: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
"""An action without an input schema takes no input: Membrane would drop any field silently."""
ANY_ITEM: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "object"}]}
"""What an array without `items` holds: a single-typed branch per kind, which every client can map."""
PLAIN_BRANCH_KEYS = frozenset({"type", "properties", "required", "title", "description"})
_FORMATS = Draft202012Validator.FORMAT_CHECKER
"""The metaschema's own format checks: a `pattern` must be a regular expression."""
_VOCABULARIES = [
    (
        frozenset(contents.get("properties", {})),
        Draft202012Validator(contents, format_checker=_FORMATS, registry=SPECIFICATIONS),
    )
    for part in Draft202012Validator.META_SCHEMA["allOf"]
    if (contents := SPECIFICATIONS.contents(urljoin(str(Draft202012Validator.META_SCHEMA["$id"]), part["$ref"])))
]
"""The Draft 2020-12 metaschema is these vocabularies, all of them (`allOf`), each with the keywords it checks."""


@dataclass
class Normalized:
    """A schema every client accepts and every call can be checked against, and what was changed to get it."""

    schema: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """What was trimmed, dropped or repaired, worded for the log (empty for a well-formed schema)."""


def normalize_input_schema(schema: Any) -> dict[str, Any]:
    """Return a schema every client accepts: root object, no `$ref`, no Membrane-only keys."""
    return normalize(schema).schema


def normalize(raw: Any) -> Normalized:
    """The portable schema of an action's `inputSchema`, and the notes on what was changed.

    Raises only on a schema the repairs could not make valid; the caller leaves that action out.
    """
    if not isinstance(raw, Mapping) or not raw:
        return Normalized(dict(NO_INPUT))
    walk = _Walk(raw)
    node, seen = walk.deref(raw, frozenset())
    if isinstance(node, Mapping) and "object" in _types(node.get("type")):
        node = {**node, "type": "object"}
    clean = walk.schema(node, 0, seen)
    if _types(clean.get("type")) - {"object", "null"} and "properties" not in clean:
        walk.note("the root is not an object: the tool takes no input")
        return Normalized(dict(NO_INPUT), walk.notes[:MAX_NOTES])
    clean = _finish_root(clean)
    clean = _repair(clean, walk)
    return Normalized(clean, walk.notes[:MAX_NOTES])


def _finish_root(clean: dict[str, Any]) -> dict[str, Any]:
    """An object with `properties`, read-only fields out, and unknown fields refused unless the schema allows them."""
    clean["type"] = "object"
    properties = clean.setdefault("properties", {})
    open_root = _lift_branches(clean)
    for name in [n for n, s in properties.items() if isinstance(s, dict) and s.get("readOnly") is True]:
        del properties[name]
    if "required" in clean:
        clean["required"] = [r for r in clean["required"] if r in properties]
        if not clean["required"]:
            del clean["required"]
    allows_more = any(key in clean for key in ("additionalProperties", "patternProperties", "unevaluatedProperties"))
    if not open_root and not allows_more:
        clean["additionalProperties"] = False
    return clean


def _lift_branches(root: dict[str, Any]) -> bool:
    """Make the fields that root `allOf`/`anyOf`/`oneOf` (and `if`/`then`/`else`) name callable.

    A plain `allOf` branch (properties and required only) merges into the root; any
    other branch keeps its checks, and the names it uses join the root's properties
    as `{}`, so closing the root to unknown fields still accepts them. Returns True
    when a branch allows fields it does not name: then the root stays open.
    """
    properties: dict[str, Any] = root["properties"]
    branches = root.get("allOf")
    if isinstance(branches, list):
        kept = []
        for branch in branches:
            if _plain(branch):
                for name, sub in (branch.get("properties") or {}).items():
                    properties[name] = sub if name not in properties else {"allOf": [properties[name], sub]}
                required = [*root.get("required", []), *branch.get("required", [])]
                if required:
                    root["required"] = list(dict.fromkeys(required))
            else:
                kept.append(branch)
        if kept:
            root["allOf"] = kept
        else:
            del root["allOf"]
    open_root = False
    for branch in _branches(root, 0):
        if "patternProperties" in branch or branch.get("additionalProperties", False) is not False:
            open_root = True
        names = [*(branch.get("properties") or {}), *(branch.get("required") or [])]
        for name in names:
            properties.setdefault(name, {})
    return open_root


def _plain(branch: Any) -> bool:
    """An `allOf` branch that only names fields: merging it into the root changes nothing it checks."""
    return isinstance(branch, dict) and set(branch) <= PLAIN_BRANCH_KEYS and branch.get("type", "object") == "object"


def _branches(node: dict[str, Any], depth: int) -> Iterator[dict[str, Any]]:
    """The subschemas that apply to the same object as `node`, nested ones too (within a bound)."""
    if depth >= MAX_BRANCH_DEPTH:
        return
    for key in ("allOf", "anyOf", "oneOf", "if", "then", "else", "dependentSchemas"):
        value = node.get(key)
        subs = list(value.values()) if isinstance(value, dict) and key == "dependentSchemas" else value
        subs = subs if isinstance(subs, list) else [subs]
        for branch in subs:
            if isinstance(branch, dict):
                yield branch
                yield from _branches(branch, depth + 1)


class _Walk:
    """One pass over an untrusted schema: standard keywords only, local `$ref`s inlined, within the bounds."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.nodes = 0
        self.limit = NODE_BUDGET
        """Where the subtree being walked must stop: its share of what is left."""
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def spend(self) -> bool:
        """Count one node; False once the budget is spent (the caller leaves an open `{}`)."""
        self.nodes += 1
        if self.nodes <= self.limit:
            return True
        self.note(f"over {NODE_BUDGET:,} nodes with its $refs inlined: the rest is left open ({{}})")
        return False

    def deref(self, node: Any, seen: frozenset[str]) -> tuple[Any, frozenset[str]]:
        """Follow local `$ref`s (a loop, not recursion); a ref seen on this path, or not local, is dropped."""
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            rest = {key: value for key, value in node.items() if key != "$ref"}
            if len(seen) >= MAX_REF_PATH:
                self.note(f"$refs nested more than {MAX_REF_PATH} deep: the rest is left open")
                return rest, seen
            target = self._target(ref, seen)
            if target is None or not self.spend():
                return rest, seen
            seen = seen | {ref}
            node = {**target, **rest}
        return node, seen

    def _target(self, ref: Any, seen: frozenset[str]) -> dict[str, Any] | None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            self.note(f"dropped $ref {_short(ref)}: only local references are followed, nothing is fetched")
            return None
        if ref in seen:
            return None
        if ref != "#" and not ref.startswith("#/"):
            self.note(f"dropped $ref {_short(ref)}: anchors are not followed")
            return None
        node: Any = self.root
        for part in ref[2:].split("/") if ref != "#" else []:
            step = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and step in node:
                node = node[step]
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            else:
                node = None
                break
        if node is True:
            return {}
        if node is False:
            return {"not": {}}
        if not isinstance(node, Mapping):
            self.note(f"dropped $ref {_short(ref)}: it points at no schema")
            return None
        return dict(node)

    def schema(self, node: Any, depth: int, seen: frozenset[str]) -> dict[str, Any]:
        if depth > MAX_SCHEMA_DEPTH:
            self.note(f"nested more than {MAX_SCHEMA_DEPTH} levels: deeper parts are left open ({{}})")
            return {}
        if not self.spend():
            return {}
        node, seen = self.deref(node, seen)
        if node is False:
            return {"not": {}}
        if not isinstance(node, Mapping):
            return {}
        out: dict[str, Any] = {}
        for key, value in node.items():
            self._keyword(out, str(key), value, node, depth, seen)
        if "array" in _types(out.get("type")) and "items" not in out and "prefixItems" not in out:
            out["items"] = dict(ANY_ITEM)
        if isinstance(out.get("type"), list):
            branches = [{"type": name} for name in out.pop("type")]
            out = {**out, "anyOf": branches} if "anyOf" not in out else {**out, "allOf": [{"anyOf": branches}]}
        return out

    def sub(self, value: Any, depth: int, seen: frozenset[str]) -> Any:
        """A subschema: booleans stay booleans where the keyword takes one."""
        return value if isinstance(value, bool) else self.schema(value, depth + 1, seen)

    def shared(self, values: list[Any], depth: int, seen: frozenset[str]) -> tuple[list[Any], bool]:
        """Sibling subschemas, each walked within its share of the nodes left, so one cannot starve the rest.

        Returns them and whether all were walked: once nothing is left, the rest are not.
        """
        out: list[Any] = []
        outer = self.limit
        for index, value in enumerate(values):
            if self.nodes >= outer:
                self.note(f"over {NODE_BUDGET:,} nodes with its $refs inlined: the rest is left open ({{}})")
                return out, False
            self.limit = min(outer, self.nodes + max((outer - self.nodes) // (len(values) - index), 1))
            out.append(self.sub(value, depth, seen))
            self.limit = outer
        return out, True

    def _keyword(
        self, out: dict[str, Any], key: str, value: Any, node: Mapping[str, Any], depth: int, seen: frozenset[str]
    ) -> None:
        if key in SCHEMA_MAPS:
            if isinstance(value, Mapping):
                out[key] = self._named(key, value, depth, seen)
        elif key in SCHEMA_LISTS:
            if isinstance(value, list) and value:
                branches, whole = self.shared(value, depth, seen)
                if branches and (whole or key in ("allOf", "prefixItems")):
                    out[key] = branches  # fewer allOf branches check less; a cut anyOf or oneOf would check more
        elif key == "items" and isinstance(value, list):
            if value:
                out["prefixItems"] = self.shared(value, depth, seen)[0]
            if "additionalItems" in node:
                out["items"] = self.sub(node["additionalItems"], depth, seen)
        elif key in SCHEMA_ONE:
            out[key] = self.sub(value, depth, seen)
        elif key == "type":
            fixed = _fix_type(value)
            if fixed is not None:
                out[key] = fixed
        elif key == "required":
            if isinstance(value, list):
                names = (repair_text(v) for v in value if isinstance(v, str) and len(v) <= MAX_NAME)
                out[key] = list(dict.fromkeys(names))
        elif key in ("dependentRequired", "dependencies"):
            self._dependencies(out, key, value, depth, seen)
        elif key in TEXTS:
            self._annotation(out, key, value)
        elif key == "pattern":
            if _compiles(value):
                out[key] = repair_text(value)
            else:
                self.note(f"dropped pattern {_short(value)}: not a usable regular expression")
        elif key in SCALARS:
            if _is_scalar(value):
                out[key] = value
            else:
                self.note(f"dropped {key}: not a number or a flag")
        elif key in MAX_VALUE_CHARS:
            self._value_keyword(out, key, value)
        elif key.startswith("$") and key not in ("$schema", "$id", "$comment", "$defs"):
            self.note(f"dropped {_short(key)}: dynamic references, anchors and nested ids are not followed")

    def _named(self, key: str, value: Mapping[str, Any], depth: int, seen: frozenset[str]) -> dict[str, Any]:
        kept: list[tuple[str, Any]] = []
        for name, sub in value.items():
            if len(name) > MAX_NAME:
                self.note(f"dropped a property whose name is over {MAX_NAME} characters")
            elif key == "patternProperties" and not _compiles(name):
                self.note(f"dropped patternProperties {_short(name)}: not a usable regular expression")
            else:
                kept.append((name, sub))
        schemas, _ = self.shared([sub for _, sub in kept], depth, seen)
        return {
            repair_text(name): _without_echo(name, schema) if isinstance(schema, dict) else schema
            for (name, _), schema in zip(kept, schemas, strict=False)
        }

    def _dependencies(self, out: dict[str, Any], key: str, value: Any, depth: int, seen: frozenset[str]) -> None:
        """Draft-07 `dependencies` splits into `dependentRequired` (name lists) and `dependentSchemas`."""
        if not isinstance(value, Mapping):
            return
        for name, item in value.items():
            if isinstance(item, list):
                names = [repair_text(v) for v in item if isinstance(v, str) and len(v) <= MAX_NAME]
                out.setdefault("dependentRequired", {})[repair_text(name)] = list(dict.fromkeys(names))
            elif key == "dependencies" and isinstance(item, Mapping | bool):
                out.setdefault("dependentSchemas", {})[repair_text(name)] = self.sub(item, depth, seen)

    def _annotation(self, out: dict[str, Any], key: str, value: Any) -> None:
        limit = TEXTS[key]
        if not isinstance(value, str):
            return
        if len(value) <= limit:
            out[key] = repair_text(value)
        elif key in ("title", "description"):
            out[key] = repair_text(value[: limit - 1]) + "…"
            self.note(f"{key}s cut to {limit} characters")
        else:
            self.note(f"dropped a {key} over {limit} characters")

    def _value_keyword(self, out: dict[str, Any], key: str, value: Any) -> None:
        if key == "enum" and isinstance(value, list) and len(value) > MAX_ENUM:
            self.note(f"dropped an enum of {len(value):,} values (over {MAX_ENUM})")
            return
        copied = self._value(value, 0)
        if copied is _INVALID:
            self.note(f"dropped a {key} nested too deeply, too large or not finite")
            return
        if len(json.dumps(copied, ensure_ascii=False)) > MAX_VALUE_CHARS[key]:
            self.note(f"dropped a {key} over {MAX_VALUE_CHARS[key]:,} characters")
            return
        out[key] = copied

    def _value(self, value: Any, depth: int) -> Any:
        """A JSON value copied within the depth bound and the node budget, its text made encodable."""
        if depth > MAX_VALUE_DEPTH or not self.spend():
            return _INVALID
        if isinstance(value, str):
            return repair_text(value)
        if isinstance(value, float) and not math.isfinite(value):
            return _INVALID
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, list):
            items = [self._value(item, depth + 1) for item in value]
            return _INVALID if any(item is _INVALID for item in items) else items
        if isinstance(value, Mapping):
            pairs = {repair_text(str(k)): self._value(v, depth + 1) for k, v in value.items()}
            return _INVALID if any(item is _INVALID for item in pairs.values()) else pairs
        return _INVALID


_INVALID: Final = object()


def _repair(schema: dict[str, Any], walk: _Walk) -> dict[str, Any]:
    """Drop each keyword the Draft 2020-12 metaschema refuses, until none is left (a bounded number of rounds)."""
    for _ in range(MAX_REPAIRS):
        errors = meta_errors(schema)
        if not errors:
            return schema
        for path, message in errors:
            dropped = _drop_at(schema, path)
            if dropped is None:
                raise ValueError(f"the input schema is not valid and cannot be repaired: {message[:200]}")
            walk.note(f"dropped {dropped}: {_short(message, 120)}")
        schema["type"] = "object"
        schema.setdefault("properties", {})
    raise ValueError(f"the input schema is still not valid after {MAX_REPAIRS} repairs")


def meta_errors(schema: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """What the Draft 2020-12 metaschema says of `schema`: (where, what) per error.

    The metaschema checks every subschema by the same rules (its `$dynamicRef: #meta`), so
    each node is checked on its own, without the subschemas it holds (each checked as a
    node of its own) and with its title and description blanked: the same errors, in time
    linear in the schema, without recursion, and each distinct node once (most properties
    look alike). A whole check resolves `$dynamicRef` once per subschema (about 1 ms each:
    seconds for a large schema); this takes milliseconds.
    """
    found: list[tuple[list[Any], str]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            continue
        shallow: dict[str, Any] = {}
        for key, value in node.items():
            if key in SCHEMA_MAPS and isinstance(value, dict):
                stack.extend(((*path, key, name), sub) for name, sub in value.items())
                malformed = {name: sub for name, sub in value.items() if not _is_subschema(sub)}
                if malformed:
                    shallow[key] = malformed
            elif key in SCHEMA_LISTS and isinstance(value, list) and value:
                stack.extend(((*path, key, index), sub) for index, sub in enumerate(value))
                if not all(_is_subschema(sub) for sub in value):
                    shallow[key] = value
            elif key in SCHEMA_ONE and _is_subschema(value):
                stack.append(((*path, key), value))
            elif key in ("title", "description") and isinstance(value, str):
                shallow[key] = ""
            else:
                shallow[key] = value
        if not _plainly_valid(shallow):
            found += [([*path, *where], message) for where, message in _check_node(json.dumps(shallow, sort_keys=True))]
    return found


COUNTS = frozenset(
    {"maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties", "maxContains", "minContains"}
)
NUMBERS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
FLAGS = frozenset({"uniqueItems", "readOnly", "writeOnly", "deprecated"})
ANY_VALUE = frozenset({"const", "default"})


def _plainly_valid(node: dict[str, Any]) -> bool:
    """True when every keyword is one the metaschema surely accepts as it stands (most nodes): no need to ask it.

    Stricter than the metaschema, never looser: anything else goes to the metaschema, which says what is wrong.
    """
    for key, value in node.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in COUNTS:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif key in NUMBERS:
            ok = number
        elif key == "multipleOf":
            ok = number and value > 0
        elif key in FLAGS:
            ok = isinstance(value, bool)
        elif key == "type":
            ok = value in JSON_TYPES
        elif key in ("title", "description", "format", "contentEncoding", "contentMediaType", "pattern"):
            ok = isinstance(value, str)  # a pattern was compiled when it was kept
        elif key in ("enum", "examples"):
            ok = isinstance(value, list)
        elif key == "required":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)
        else:
            ok = key in ANY_VALUE
        if not ok:
            return False
    return True


def _is_subschema(value: Any) -> bool:
    return isinstance(value, dict | bool)


@functools.lru_cache(maxsize=4096)
def _check_node(text: str) -> tuple[tuple[tuple[Any, ...], str], ...]:
    """One node without subschemas against the vocabularies of its keywords: no `$dynamicRef` to resolve."""
    node = json.loads(text)
    return tuple(
        (tuple(error.absolute_path), error.message)
        for keywords, check in _VOCABULARIES
        if keywords & node.keys()
        for error in check.iter_errors(node)
    )


def _drop_at(schema: dict[str, Any], path: list[Any]) -> str | None:
    """Remove the keyword that holds the error at `path`; its dotted path, or None when nothing can go."""
    node: Any = schema
    walked: list[str] = []
    index = 0
    while index < len(path) and isinstance(node, dict):
        key = path[index]
        if key not in node:
            return ".".join([*walked, str(key)])  # already gone with an earlier repair
        container = node[key]
        walked.append(str(key))
        inner = index + 1 < len(path)
        if key in (*SCHEMA_MAPS, *SCHEMA_LISTS) and inner and isinstance(container, dict | list):
            name = path[index + 1]
            walked.append(str(name))
            if index + 2 == len(path):
                container[name] = {}  # the subschema itself is malformed: it accepts anything now
                return _short(".".join(walked), 120)
            node = container[name]
            index += 2
        elif key in SCHEMA_ONE and inner and isinstance(container, dict):
            node = container
            index += 1
        else:
            if node is schema and key in ("type", "properties"):
                node[key] = "object" if key == "type" else {}
            else:
                del node[key]
            return _short(".".join(walked), 120)
    return None


def _types(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _fix_type(value: Any) -> str | list[str] | None:
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    fixed = list(dict.fromkeys(TYPE_ALIASES.get(n, n) for n in names if isinstance(n, str)))
    fixed = [n for n in fixed if n in JSON_TYPES]
    if not fixed:
        return None
    return fixed[0] if len(fixed) == 1 else fixed


def _without_echo(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Drop a description that only repeats its property's name (`firstname`: "Firstname"): tokens for nothing."""
    description = schema.get("description")
    if isinstance(description, str) and _bare(description) == _bare(name):
        return {k: v for k, v in schema.items() if k != "description"}
    return schema


def _bare(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _compiles(pattern: Any) -> bool:
    """A pattern this server can advertise and check: text, not too long, and compiled by Python's `re`."""
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        return False
    try:
        re.compile(pattern)
    except Exception:  # re.error, and OverflowError or RecursionError for hostile ones
        return False
    return True


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int | str)


def _short(value: Any, limit: int = 60) -> str:
    return clip(json.dumps(value, ensure_ascii=True) if not isinstance(value, str) else repr(value), limit)
