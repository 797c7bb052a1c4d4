"""Request values read as leniently as Mautic's PHP reads them, the timestamps it writes, and PHP arrays as
its JSON shows them."""

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
    """`php_array` all the way down a nested value."""
    return php_array({k: _listed(v) for k, v in value.items()}) if isinstance(value, dict) else value


def php_array(items: dict[Any, Any]) -> Any:
    """How Mautic's JSON shows a PHP array: a list when its keys are 0, 1, … in order, otherwise an object keyed
    by them (so a batch answer whose first item failed has `{"1": …, "2": …}` rather than a list)."""
    keys = [str(k) for k in items]
    if keys == [str(i) for i in range(len(keys))]:
        return list(items.values())
    return {str(k): v for k, v in items.items()}


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
