"""Reading what the CLI printed: JSON where there is JSON, error objects wherever they hide.

The CLI is a closed Node program whose output shapes are only partly documented,
and what it prints is untrusted (anyone in a Membrane workspace can write an
action, and the CLI passes on whatever Mautic answers). So everything here is
tolerant, never raises on what it cannot read, and makes what it returns safe to
pass on: no lone surrogates (which no UTF-8 writer can encode), no NaN or
Infinity (which strict JSON cannot hold), no nesting deep enough to exhaust the
stack of a later stage.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

QUOTE_CHARS: Final = 400
MEMBRANE_ERROR_TYPES: Final = frozenset({"bad_request", "connection", "configuration", "action_run", "internal"})
MAX_DEPTH: Final = 200
"""Answers nested deeper are refused: every later stage (shaping, schema checks, json.dumps) recurses."""
REDACTED: Final = "[redacted]"
MIN_HIDDEN_CHARS: Final = 8
"""A call's own input is hidden from messages when echoed back; shorter values ("{}") would hide too much."""


class _Marker:
    """A parse outcome that is not a JSON value (distinct from a JSON `null`)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


UNPARSED: Final = _Marker("UNPARSED")
"""The output holds no JSON."""
TOO_DEEP: Final = _Marker("TOO_DEEP")
"""The output is JSON nested deeper than MAX_DEPTH (or too deep for the parser itself)."""

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_LINE_BREAKING: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def parse_json(raw: bytes) -> Any:
    """The JSON value printed, or the last line's when a warning line comes first; else UNPARSED or TOO_DEEP.

    The value is safe to pass on: lone surrogates are U+FFFD, NaN and ±Infinity are null.
    """
    text = decode(raw).strip()
    if not text:
        return UNPARSED
    value = _loads(text)
    if value is UNPARSED:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1:
            return _loads(lines[-1])
    return value


def _loads(text: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        return TOO_DEEP
    except ValueError:
        return UNPARSED
    # The decoded text holds no surrogates itself; only \uD800-\uDFFF escapes can make one.
    return made_safe(value, repair=_SURROGATE_ESCAPE.search(text) is not None)


def _no_constant(_: str) -> None:
    """NaN, Infinity and -Infinity are not JSON: a value Node printed that way becomes null."""
    return None


def _finite_float(literal: str) -> float | None:
    """A number too large for a float (1e999) would come back as Infinity: null instead."""
    number = float(literal)
    return number if math.isfinite(number) else None


def made_safe(value: Any, *, repair: bool = True) -> Any:
    """`value` with lone surrogates repaired in place (keys too), or TOO_DEEP when nested over MAX_DEPTH.

    Iterative, so that checking a deep value cannot itself exhaust the stack.
    """
    if isinstance(value, str):
        return repair_text(value) if repair else value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if repair:
                _repair_keys(node)
            children: Any = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        for slot, child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    return TOO_DEEP
                stack.append((child, depth + 1))
            elif repair and isinstance(child, str) and _SURROGATE.search(child):
                node[slot] = repair_text(child)
    return value


def _repair_keys(mapping: dict[Any, Any]) -> None:
    if not any(isinstance(key, str) and _SURROGATE.search(key) for key in mapping):
        return
    items = list(mapping.items())
    mapping.clear()
    for key, item in items:
        mapping[repair_text(key) if isinstance(key, str) else key] = item


def repair_text(text: str) -> str:
    """Pairs of surrogates joined into the character they mean; a lone one (an emoji cut in half) is U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def is_error_object(value: Any) -> bool:
    """A Membrane error printed on stdout by `--json` (and not a result that has a `message` field)."""
    return (
        isinstance(value, dict)
        and "message" in value
        and str(value.get("type")) in MEMBRANE_ERROR_TYPES
        and not {"output", "items"} & value.keys()
    )


def find_error(parsed: Any, stderr: str) -> Mapping[str, Any] | None:
    """A structured error object from stdout, else from any JSON line of stderr; None when there is none.

    Only a structured object counts here: free text is read for a hint later, never as an error key.
    """
    candidates = [parsed]
    candidates += [parse_json(line.encode()) for line in reversed(stderr.splitlines()) if "{" in line]
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        value: dict[str, Any] = candidate
        inner = value.get("error")
        if isinstance(inner, dict):
            value = inner
        elif isinstance(inner, str):
            value = {"message": inner, **{k: v for k, v in value.items() if k != "error"}}
        if "message" in value and ({"type", "key", "data"} & value.keys()):
            return value
    return None


def page_items(value: Any) -> list[dict[str, Any]] | None:
    """The records of a page `{"items": [...]}`, a bare list or `{"data": [...]}`; None for another shape."""
    if isinstance(value, dict):
        for key in ("items", "data", "results"):
            if isinstance(value.get(key), list):
                value = value[key]
                break
    if not isinstance(value, list):
        return None
    return [item for item in value if isinstance(item, dict)]


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


_STACK_FRAME: Final = re.compile(r"^at\s|^\^+$|^node:internal|^Node\.js v\d")
_ERROR_LINE: Final = re.compile(r"^(?:[A-Z]\w*)?(?:Error|Exception)\b|^(?:error|fatal|ERROR|FATAL)\b|^E[A-Z]{3,}\b")


def error_line(text: str) -> str:
    """The line of free text that states the error ("Error: …"), not the stack trace or dump around it."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not _STACK_FRAME.search(line)]
    return next((line for line in lines if _ERROR_LINE.search(line)), lines[-1] if lines else "")


_CREDENTIALS: Final = (
    # Authorization: Bearer …, Cookie: …, X-Api-Key: … (a header however it is printed)
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|api-key)(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,;}]+"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # access_token=…, token=…, password=…, apiKey=… (query strings, form bodies, URLs)
    (
        re.compile(
            r"(?i)\b([\w.-]*(?:token|password|passwd|secret|api[_-]?key|apikey|credentials?))(\s*=\s*)[^\s&'\",;]+"
        ),
        r"\1\2" + REDACTED,
    ),
    # "password": "…", apiKey: '…' (JSON, or Node's util.inspect)
    (
        re.compile(
            r"(?i)([\"']?\b[\w.-]*(?:token|password|passwd|secret|api[_-]?key|apikey|authorization|credentials?)"
            r"[\"']?\s*:\s*)([\"'])(?:(?!\2)[^\\]|\\.)*\2"
        ),
        r"\1\2" + REDACTED + r"\2",
    ),
    # a JWT anywhere
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
)


def redact(text: str, hide: Sequence[str] = ()) -> str:
    """`text` with credentials (tokens, passwords, API keys, JWTs) and the given values of the call replaced."""
    for value in sorted(hide, key=len, reverse=True):
        if len(value) >= MIN_HIDDEN_CHARS:
            for form in {value, json.dumps(value)[1:-1]}:
                text = text.replace(form, "[your input]")
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """One line of at most `limit` characters, credentials redacted, for quoting CLI or Mautic text in a message."""
    text = redact(text[: limit + 8192])
    return clip(" ".join(text.split()), limit)


def clip(text: str, limit: int) -> str:
    """`text` as it is, or its first `limit - 1` characters and an ellipsis: never longer than `limit`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def loggable(text: str) -> str:
    """`text` on one line: line breaks (also U+2028, U+2029, U+0085) and other controls escaped, never obeyed."""
    return _LINE_BREAKING.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
