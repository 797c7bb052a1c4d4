"""Arguments checked against a tool's schema, without fetching anything and without stalling the server.

Three things in jsonschema can hurt a server whose schemas come from an untrusted catalog:

- Its default registry fetches remote `$ref`s with `urlopen` (no timeout, on the event
  loop). Every validator here is built on `NO_FETCH`, a registry whose retrieve refuses,
  besides normalization removing every non-local reference.
- `uniqueItems` compares items pairwise (6,000 objects: 40 s). It is replaced here by a
  check that hashes each item once, so it is linear and stays in process.
- `pattern` and `patternProperties` run Python's `re`, which backtracks without bound
  (`^(a+)+$` on 30 characters: 25 s) and holds the GIL, so a thread would not help, and no
  static test catches every slow pattern (`\\d*\\d*\\d*x` is polynomial, not nested). So a
  schema with a pattern, or a check so large it could take long, is checked in a worker
  process under a deadline; at the deadline the worker is killed and the call refused,
  with nothing sent. Every other check, the common case, stays in process (microseconds).

The worker is a fresh `python -m mautic_mcp.tools.checker` per check, not a pool
(`anyio.to_process`): a pool worker re-imports the parent's `__main__`, which for
`python -m mautic_mcp.server` starts a server, and idle workers would outlive the
event loop that owns them. A fresh worker costs about 0.15 s, only for such calls, and
leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Final

import anyio
from anyio.lowlevel import RunVar
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from mautic_mcp.membrane.output import clip
from mautic_mcp.membrane.runner import RunError, Runner, RunTimeout
from mautic_mcp.tools.formats import FORMATS, expected

log = logging.getLogger(__name__)

MAX_DEPTH: Final = 64
"""Arguments nested deeper are refused before they are checked."""
MAX_MESSAGES: Final = 10
MAX_NAMES: Final = 20
"""Unknown fields named in one message; the rest are counted."""
MAX_ACCEPTED: Final = 60
CHECK_SECONDS = 5.0
"""How long a check in a worker may take, the worker's start included (about 0.15 s); tests lower it."""
MAX_CHECKERS: Final = 4
"""Worker processes at once; more checks wait their turn, within their own deadline."""
MAX_ANSWER_BYTES: Final = 1_000_000
INLINE_WORK: Final = 2_000_000
"""Schema nodes times argument nodes above which a check could take long enough to leave the event loop."""
SLOW_KEYWORDS: Final = frozenset({"pattern", "patternProperties"})
NAMED_SCHEMAS: Final = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"})
NOT_SCHEMAS: Final = frozenset({"enum", "const", "default", "examples", "required", "dependentRequired"})
TOO_DEEP: Final = f"arguments are nested more than {MAX_DEPTH} levels deep"


def _refuse_retrieval(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


NO_FETCH: Final[Registry[Any]] = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]
"""A registry that never fetches: a reference it does not hold fails instead of reaching the network."""


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """`uniqueItems` in linear time: each item is reduced once to a hashable form, equal as JSON is equal."""
    if not unique or not isinstance(instance, list):
        return
    seen: dict[Hashable, int] = {}
    for index, item in enumerate(instance):
        key = _hashable(item)
        if key in seen:
            yield ValidationError(f"items {seen[key]} and {index} are the same; each item must be different")
            return
        seen[key] = index


def _hashable(value: Any) -> Hashable:
    """JSON equality as Python equality: 1 equals 1.0 (both numbers), true does not equal 1, key order is ignored."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_hashable(item) for item in value))
    if isinstance(value, dict):
        return ("o", frozenset((key, _hashable(item)) for key, item in value.items()))
    return ("z", repr(value))


Checker = validators.extend(Draft202012Validator, validators={"uniqueItems": _unique_items})  # type: ignore[no-untyped-call]


class ArgumentsValidator:
    """Checks a call's arguments and says, per field, what is wrong and what is expected."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = Checker(schema, registry=NO_FETCH, format_checker=FORMATS)
        keywords, self._nodes = _survey(schema)
        self.slow = bool(keywords & SLOW_KEYWORDS)
        """The schema has a pattern: its checks run in a worker process, under a deadline."""

    def errors(self, arguments: Any) -> list[str]:
        """The problems, checked in this process: fast for any schema without a pattern."""
        if not isinstance(arguments, dict):
            return [f"arguments must be a JSON object, got {_json_type(arguments)}"]
        if _measure(arguments, MAX_DEPTH)[0] > MAX_DEPTH:
            return [TOO_DEEP]
        return self._errors(arguments)

    def _errors(self, arguments: dict[str, Any]) -> list[str]:
        """`errors()` of an object already known to be nested no deeper than MAX_DEPTH."""
        try:
            found = sorted(self._validator.iter_errors(arguments), key=_error_order)
        except RecursionError:
            return ["arguments are nested too deeply to check"]
        except Exception as error:  # a schema the repairs missed: refuse the call, never fail the server
            log.warning("arguments could not be checked: %s: %s", type(error).__name__, str(error)[:200])
            return [f"the arguments could not be checked against this tool's schema ({type(error).__name__})"]
        messages = list(dict.fromkeys(_describe(error) for error in found))
        if len(messages) > MAX_MESSAGES:
            messages = [*messages[:MAX_MESSAGES], f"… and {len(messages) - MAX_MESSAGES} more problems"]
        return messages

    async def check(self, arguments: Any, *, seconds: float | None = None) -> list[str]:
        """The problems; a check that could take long runs in a worker process and gives up after `seconds`.

        The arguments are walked once, for their depth and their size together.
        """
        if not isinstance(arguments, dict):
            return self.errors(arguments)
        depth, values = _measure(arguments, MAX_DEPTH)
        if depth > MAX_DEPTH:
            return [TOO_DEEP]
        if not self.slow and self._nodes * values <= INLINE_WORK:
            return self._errors(arguments)
        limit = CHECK_SECONDS if seconds is None else seconds
        with anyio.move_on_after(limit):
            try:
                return await _in_worker(self.schema, arguments, limit)
            except RunTimeout:
                log.warning("a pattern check took over %g s and was stopped", limit)
            except (OSError, ValueError) as error:
                log.warning("the checking process failed: %s: %s", type(error).__name__, str(error)[:200])
                return ["the arguments could not be checked: the checking process failed. Try again"]
        why = "a pattern in this tool's schema" if self.slow else "checking values this large"
        return [
            f"the arguments could not be checked within {limit:g} s ({why} takes too long on them); "
            "try shorter or simpler values"
        ]


_CHECKERS: RunVar[Runner] = RunVar("mautic_mcp checkers")


def _checkers() -> Runner:
    """The runner of checking processes for this event loop: the same runner every CLI call uses, in its own pool."""
    try:
        return _CHECKERS.get()
    except LookupError:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        runner = Runner(
            [sys.executable, "-P", "-m", "mautic_mcp.tools.checker"],
            timeout=CHECK_SECONDS,
            max_concurrency=MAX_CHECKERS,
            max_stdout_bytes=MAX_ANSWER_BYTES,
            env=env,
        )
        _CHECKERS.set(runner)
        return runner


async def _in_worker(schema: dict[str, Any], arguments: dict[str, Any], seconds: float) -> list[str]:
    """`errors()` in a fresh `python -m mautic_mcp.tools.checker`, run by the Runner; killed at the deadline.

    The request goes through a private temporary file, since it can be larger than one argument may be.
    """
    request = json.dumps({"schema": schema, "arguments": arguments})
    with tempfile.TemporaryDirectory(prefix="mautic-mcp-check-") as folder:
        path = os.path.join(folder, "request.json")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(request)
        try:
            done = await _checkers().run([path], timeout=seconds)
        except RunTimeout:
            raise
        except RunError as error:
            raise ValueError(str(error)) from None
    if done.returncode != 0 or done.stdout_truncated:
        raise ValueError(f"the checker exited with status {done.returncode}")
    problems = json.loads(done.stdout)
    if not isinstance(problems, list):
        raise ValueError("the checker answered no list")
    return [str(problem) for problem in problems]


def _survey(schema: Any) -> tuple[set[str], int]:
    """The keywords a schema uses anywhere and how many JSON values it holds (itself included), in one walk.

    Walked without recursion. Property names, and what `enum`, `const`, `required` and the
    like hold, are not keywords; they count as values all the same.
    """
    found: set[str] = set()
    count = 0
    stack: list[tuple[Any, bool]] = [(schema, True)]
    while stack:
        node, is_schema = stack.pop()
        count += 1
        if isinstance(node, list):
            stack.extend((item, is_schema) for item in node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if not is_schema:
                    stack.append((value, False))
                    continue
                found.add(key)
                if key in NAMED_SCHEMAS and isinstance(value, dict):
                    count += 1  # the object of named schemas itself
                    stack.extend((item, True) for item in value.values())
                else:
                    stack.append((value, key not in NAMED_SCHEMAS and key not in NOT_SCHEMAS))
    return found, count


def _describe(error: ValidationError) -> str:
    where = _field(error.absolute_path)
    instance = error.instance
    kind = error.validator
    expected_value: Any = error.validator_value
    if kind == "required" and isinstance(instance, dict):
        missing = [name for name in expected_value if name not in instance]
        return "; ".join(f"{_field([*error.absolute_path, m])}: required field is missing" for m in missing)
    if kind == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        accepted = sorted((schema.get("properties") or {}).keys())
        unknown = sorted(k for k in instance if k not in accepted)
        scope = f" in {where}" if error.absolute_path else ""
        return (
            f"unknown field{'s' if len(unknown) > 1 else ''} "
            f"{_names([repr(_cut(name, 60)) for name in unknown], MAX_NAMES)}{scope}; "
            f"accepted fields: {_names(accepted, MAX_ACCEPTED) or 'none'}"
        )
    if kind == "type":
        expected_text = " or ".join(expected_value) if isinstance(expected_value, list) else str(expected_value)
        return f"{where}: expected {expected_text}, got {_json_type(instance)}"
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in expected_value)
        return f"{where}: must be one of {_cut(options)}"
    if kind == "const":
        return f"{where}: must be {_cut(json.dumps(expected_value))}"
    if kind in {"maxLength", "minLength"}:
        length = len(instance) if isinstance(instance, str) else "?"
        bound = "at most" if kind == "maxLength" else "at least"
        return f"{where}: must be {bound} {expected_value} characters long, got {length}"
    if kind in {"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"}:
        return f"{where}: must be {_BOUNDS[kind]} {expected_value}, got {_cut(repr(instance))}"
    if kind in {"maxItems", "minItems"}:
        bound = "at most" if kind == "maxItems" else "at least"
        count = len(instance) if isinstance(instance, list) else "?"
        return f"{where}: must have {bound} {expected_value} items, got {count}"
    if kind == "format":
        return f"{where}: must be {expected(expected_value)}, got {_cut(json.dumps(instance), 80)}"
    if kind == "pattern":
        return f"{where}: must match the pattern {_cut(json.dumps(expected_value), 120)}"
    if kind in {"anyOf", "oneOf"}:
        return f"{where}: does not match any of the accepted forms"
    return f"{where}: {_cut(error.message)}"


_BOUNDS = {
    "maximum": "at most",
    "minimum": "at least",
    "exclusiveMaximum": "less than",
    "exclusiveMinimum": "greater than",
}


def _names(names: list[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" … and {len(names) - limit} more" if len(names) > limit else "")


def _error_order(error: ValidationError) -> tuple[str, str]:
    return ("/".join(map(str, error.absolute_path)), str(error.validator))


def _field(path: Any) -> str:
    parts = list(path)
    if not parts:
        return "arguments"
    text = _cut(str(parts[0]), 80)
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{_cut(str(part), 80)}"
    return f"'{_cut(text, 300)}'"


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


def _measure(value: Any, limit: int) -> tuple[int, int]:
    """Nesting depth and how many JSON values `value` holds (itself included), in one walk without recursion.

    Stops as soon as the depth passes `limit`: the count is then of the values seen so far.
    """
    deepest = count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        count += 1
        if level > deepest:
            deepest = level
            if deepest > limit:
                break
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest, count


def _cut(text: str, limit: int = 200) -> str:
    return clip(text, limit)
