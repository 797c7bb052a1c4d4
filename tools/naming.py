"""Tool names every client accepts, stable across starts.

Claude Desktop rejects the whole tool list when one name fails
`^[a-zA-Z0-9_-]{1,64}$`, so a Membrane action key is used as is only when it
passes, and is otherwise sanitized (or the action's name is, when the key is empty).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from mautic_mcp.membrane.catalog import Action

VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_LENGTH = 64
_INVALID_RUN = re.compile(r"[^a-zA-Z0-9_-]+")


def sanitize(text: str) -> str:
    """Replace each run of disallowed characters with `_`, trim, cut to 64 characters."""
    name = _INVALID_RUN.sub("_", text.strip()).strip("_-")
    name = re.sub(r"_{2,}", "_", name)
    return name[:MAX_LENGTH].rstrip("_-") or "action"


def base_name(action: Action) -> str:
    key = action.key
    if VALID_NAME.match(key):
        return key
    if key.strip():
        return sanitize(key)
    return sanitize((action.name or action.id or "action").lower())


def assign_names(actions: Sequence[Action], reserved: Iterable[str] = ()) -> list[str]:
    """One unique valid name per action, in order.

    Exact keys are served first so a sanitized name can never take a real key's
    name; a collision gets a suffix made from the action id, so the same action
    keeps the same name whatever else the catalog holds.
    """
    taken = set(reserved)
    bases = [base_name(action) for action in actions]
    names: list[str | None] = [None] * len(actions)
    exact = [i for i, a in enumerate(actions) if bases[i] == a.key]
    rest = [i for i in range(len(actions)) if i not in set(exact)]
    for index in exact + rest:
        name = bases[index]
        if name in taken:
            name = _with_suffix(name, actions[index].id or str(index), taken)
        taken.add(name)
        names[index] = name
    return [name for name in names if name is not None]


def _with_suffix(name: str, seed: str, taken: set[str]) -> str:
    digest = hashlib.sha1(seed.encode()).hexdigest()
    for width in range(6, len(digest) + 1):
        suffix = "_" + digest[:width]
        candidate = name[: MAX_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    counter = 2
    while f"{name[: MAX_LENGTH - 8]}_{counter}" in taken:
        counter += 1
    return f"{name[: MAX_LENGTH - 8]}_{counter}"
