"""Deterministic intent ranking for `action list --intent`, standing in for Membrane's semantic search.

An action scores, for each intent word, the best of: 4 if it names the action's area, 3 if it is in the
key, 2 in the name, 1 in the description (words compared after a plain-English stem and a few synonyms).
List actions get half a point so that "contacts" puts list-contacts first. Ties go by key, then name.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "all",
        "any",
        "by",
        "for",
        "from",
        "i",
        "in",
        "into",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "show",
        "the",
        "their",
        "them",
        "to",
        "with",
    )
)
SYNONYMS = {
    "lead": ("contact",), "person": ("contact",), "people": ("contact",), "subscriber": ("contact",),
    "customer": ("contact",), "organization": ("company",), "organisation": ("company",),
    "account": ("company",), "business": ("company",),
    "audience": ("segment",), "mail": ("email",), "message": ("email",), "newsletter": ("email", "segment"),
    "file": ("asset",), "document": ("asset",), "download": ("asset",), "pipeline": ("stage",),
    "lifecycle": ("stage",), "automation": ("campaign",), "journey": ("campaign",), "workflow": ("campaign",),
    "submission": ("form",), "comment": ("note",), "find": ("find", "search", "list", "get"),
    "search": ("search", "find", "list"), "lookup": ("search", "find", "get"), "fetch": ("get", "list"),
    "read": ("get", "list"), "new": ("create", "add"), "add": ("add", "create"), "edit": ("update",),
    "modify": ("update", "change"), "change": ("change", "update"), "remove": ("remove", "delete"),
    "delete": ("delete", "remove"), "move": ("change",), "tagged": ("tag",),
}  # fmt: skip


def stem(word: str) -> str:
    """Plural to singular, plainly: companies -> company, contacts -> contact, addresses -> address."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    out, current = [], []
    for char in text.lower():
        if char.isalnum():
            current.append(char)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return [stem(w) for w in out if w not in STOPWORDS]


def _score(spec: dict[str, Any], terms: list[tuple[str, ...]]) -> float:
    key, name, desc = set(words(spec["key"])), set(words(spec["name"])), set(words(spec["description"]))
    area = stem(spec["area"])
    total = 0.0
    for expansions in terms:
        best = 0
        for term in expansions:
            best = max(
                best,
                4 if term == area else 0,
                3 if term in key else 0,
                2 if term in name else 0,
                1 if term in desc else 0,
            )
        total += best
    if total and spec["op"] == "list":
        total += 0.5
    return total


def rank(specs: list[dict[str, Any]], intent: str) -> list[dict[str, Any]]:
    """Specs relevant to `intent`, best first; all specs in key order when the intent has no words."""
    terms = [SYNONYMS.get(w, (w,)) for w in dict.fromkeys(words(intent))]
    if not terms:
        return sorted(specs, key=lambda s: (s["key"], s["name"]))
    scored = [(_score(s, terms), s) for s in specs]
    return [s for score, s in sorted(scored, key=lambda p: (-p[0], p[1]["key"], p[1]["name"])) if score > 0]
