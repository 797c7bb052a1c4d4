"""Request values read as leniently as Mautic's PHP reads them, and the timestamps it writes."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def now() -> str:
    """The current time in Mautic's date format, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def to_int(value: Any, default: int) -> int:
    """An integer from a number or numeric text; `default` for anything else."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def truthy(value: Any) -> bool:
    """A query or form flag: `1`, `true`, `yes` and `on` (any case) are true."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query or form pairs read as PHP reads them: `filters[search]=x`, `where[0][col]=id` and `ids[]=1` build
    nested values, so `?order[0]=timestamp&order[1]=DESC` arrives as Mautic's controllers see it. Containers
    keyed 0, 1, … become lists, as PHP's arrays do in JSON; other names keep their last value."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        keys = _bracket_keys(name)
        node = out
        for key in keys[:-1]:
            key = key or str(len(node))
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1] or str(len(node))] = value
    return {k: _listed(v) for k, v in out.items()}


def _bracket_keys(name: str) -> list[str]:
    """`a[b][]` -> `["a", "b", ""]`; a name that is not well formed is one plain key, as it is for PHP."""
    head, bracket, rest = name.partition("[")
    if not bracket or not head or "]" not in rest:
        return [name]
    keys = [head]
    while rest:
        key, close, rest = rest.partition("]")
        if not close:
            return [name]
        keys.append(key)
        if not rest.startswith("["):
            break
        rest = rest[1:]
    return keys


def _listed(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listed(v) for k, v in value.items()}
    return list(items.values()) if list(items) == [str(i) for i in range(len(items))] else items


def as_list(value: Any) -> list[Any]:
    """A list given as a list, an object of values, comma-separated text or one value; nothing for empty."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]
