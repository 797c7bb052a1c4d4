"""Reading what the CLI printed: JSON where there is JSON, error objects wherever they hide.

The CLI is a closed Node program whose output shapes are only partly documented,
so everything here is tolerant: it takes every plausible shape and never raises
on what it cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

QUOTE_CHARS: Final = 400
MEMBRANE_ERROR_TYPES: Final = frozenset({"bad_request", "connection", "configuration", "action_run", "internal"})


class _Unparsed:
    """The marker for output that holds no JSON (distinct from a JSON `null`)."""

    def __repr__(self) -> str:
        return "UNPARSED"


UNPARSED: Final = _Unparsed()


def parse_json(raw: bytes) -> Any:
    """The JSON value printed, or the last line's when a warning line comes first; else UNPARSED."""
    text = decode(raw).strip()
    if not text:
        return UNPARSED
    try:
        return json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1:
            try:
                return json.loads(lines[-1])
            except ValueError:
                return UNPARSED
        return UNPARSED


def is_error_object(value: Any) -> bool:
    """A Membrane error printed on stdout by `--json` (and not a result that has a `message` field)."""
    return (
        isinstance(value, dict)
        and "message" in value
        and str(value.get("type")) in MEMBRANE_ERROR_TYPES
        and not {"output", "items"} & value.keys()
    )


def find_error(parsed: Any, stderr: str) -> Mapping[str, Any] | None:
    """An error object from stdout, else from any JSON line of stderr, else a login hint in plain text."""
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
    if stderr.strip():
        lowered = stderr.lower()
        if "not logged in" in lowered or ("login" in lowered and "run" in lowered):
            return {"key": "not_authenticated", "message": stderr.strip()}
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


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """One line of at most `limit` characters, for quoting CLI or Mautic text in a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
