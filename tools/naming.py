"""Tool names in one style, snake_case, that every client accepts and that stay the same across starts.

Claude Desktop rejects the whole tool list when one name fails
`^[a-zA-Z0-9_-]{1,64}$`; models do best when every name reads alike
(`list_contacts`, `proxy_request`). So each action's key (or its name, when the
key is empty) becomes snake_case: words split at case changes and at any
character that is not a letter or digit, lowercased, joined by `_`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

from mautic_mcp.membrane.catalog import Action

VALID_NAME = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
"""snake_case, which also passes every client's rule (`^[a-zA-Z0-9_-]{1,64}$`)."""
MAX_LENGTH = 64
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def words(text: str) -> list[str]:
    """Every word of the text, lowercased and uncut: `findContactsByEmail` → `["find", "contacts", "by", "email"]`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    spaced = _CASE_CHANGE.sub("_", ascii_text.strip())
    return [word.lower() for word in _NOT_WORD.split(spaced) if word]


def snake_case(text: str) -> str:
    """`contacts.find-by Tag` → `contacts_find_by_tag`; `findContactsByEmail` → `find_contacts_by_email`.

    Cut to MAX_LENGTH characters, so a name that long loses its last words: read `words` for all of them.
    """
    name = "_".join(words(text))[:MAX_LENGTH].rstrip("_")
    return name or "action"


def base_name(action: Action) -> str:
    return snake_case(action.key if action.key.strip() else action.name or action.id)


def assign_names(actions: Sequence[Action], reserved: Iterable[str] = ()) -> list[str]:
    """One unique snake_case name per action, in order.

    Keys that are already snake_case are served first, so a converted name can
    never take a real key's name; a collision gets a suffix made from the action
    id, so the same action keeps the same name whatever else the catalog holds.
    Names are compared without case: no action may take a name that differs from
    another, or from a reserved one (`proxy_request`), only by case.
    """
    taken = {name.casefold() for name in reserved}
    bases = [base_name(action) for action in actions]
    names: list[str | None] = [None] * len(actions)
    exact = [i for i, a in enumerate(actions) if bases[i] == a.key]
    first = set(exact)
    for index in exact + [i for i in range(len(actions)) if i not in first]:
        name = bases[index]
        if name.casefold() in taken:
            name = _with_suffix(name, actions[index].id or str(index), taken)
        taken.add(name.casefold())
        names[index] = name
    return [name for name in names if name is not None]


def closest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The known names nearest to a mistyped one (`list-contacts` → `list_contacts`)."""
    pool = list(candidates)
    normalized = {snake_case(candidate): candidate for candidate in pool}
    exact = normalized.get(snake_case(name))
    found = difflib.get_close_matches(snake_case(name), list(normalized), n=limit, cutoff=0.6)
    ordered = ([exact] if exact else []) + [normalized[match] for match in found]
    return list(dict.fromkeys(ordered))[:limit]


def _with_suffix(name: str, seed: str, taken: set[str]) -> str:
    """`name` with the shortest suffix of the seed's hash that is free (`taken` holds casefolded names)."""
    digest = hashlib.sha1(seed.encode()).hexdigest()
    for width in range(6, len(digest) + 1):
        suffix = "_" + digest[:width]
        candidate = name[: MAX_LENGTH - len(suffix)].rstrip("_") + suffix
        if candidate.casefold() not in taken:
            return candidate
    counter = 2
    while f"{name[: MAX_LENGTH - 8]}_{counter}".casefold() in taken:
        counter += 1
    return f"{name[: MAX_LENGTH - 8]}_{counter}"
