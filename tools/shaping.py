"""Answers shaped for a model: compact JSON, lists with their paging first, everything cut to fit.

A list answer is taken apart (`split_list`), its long text fields shortened to
previews, and as many records kept as fit the cap (`fit_list`); the tool then
says where the next call starts. Any other answer keeps its shape and, when too
long, has its longest text fields cut, each one named (`fit_value`). Every size
is measured once per record, so the work grows with the answer, not with the
number of tries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import anyio.to_thread

from mautic_mcp.membrane.output import clip

LIST_KEYS: Final = ("records", "items", "data", "results")
"""Where a Membrane action's output holds its records."""
CURSOR_KEYS: Final = ("cursor", "nextCursor", "next_cursor")
PREVIEW_OVER: Final = 300
"""A text field longer than this is shown as a preview in a list."""
PREVIEW_CHARS: Final = 160
MIN_KEPT: Final = 80
"""What a cut text field keeps at least, so the model still sees what it is."""
ENVELOPE_ROOM: Final = 600
"""Room kept for `total`, `note` and the framing while choosing how many records fit (plus `next`'s size)."""
NOTE_CHARS: Final = 400
CUT_MARKER: Final = 40
"""About how long the `… [cut: 80 of 1,234 characters]` marker of a cut field is."""

Reader = Callable[[Any], str | None]
"""Given a record, the call that reads it in full (e.g. `get_email {"id": 3}`), or None."""


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def drop_nulls(value: Any) -> Any:
    """Mautic records carry dozens of empty fields; an absent field reads the same, at a fraction of the size."""
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


@dataclass
class ListAnswer:
    """A list answer taken apart: its records, where they sat, and what it says of the rest."""

    rows: list[tuple[str | None, Any]]
    """(id key, record) for Mautic's rows keyed by id; (None, record) for a plain list."""
    key: str | None
    """The answer's key that held the records; None when the answer was the list itself."""
    keyed: bool
    others: dict[str, Any] = field(default_factory=dict)
    total: int | None = None
    cursor: str | None = None


def split_list(answer: Any, *, any_key: bool = False) -> ListAnswer | None:
    """The records of a list answer, or None when the answer is not a list.

    Takes a bare list, records under one of LIST_KEYS, or (with `any_key`, for Mautic's
    own answers) the largest list or id-keyed object at the top level.
    """
    if isinstance(answer, list):
        return ListAnswer(rows=[(None, item) for item in answer], key=None, keyed=False)
    if not isinstance(answer, dict):
        return None
    best: str | None = None
    for key, value in answer.items():
        collection = isinstance(value, list) or _is_rows(value) or value == {}
        if (key in LIST_KEYS or any_key) and collection and (best is None or _length(value) > _length(answer[best])):
            best = key
    if best is None:
        return None
    value = answer[best]
    keyed = isinstance(value, dict)
    rows: list[tuple[str | None, Any]] = (
        [(str(k), v) for k, v in value.items()] if keyed else [(None, item) for item in value]
    )
    others = {k: v for k, v in answer.items() if k != best and k != "total" and k not in CURSOR_KEYS}
    cursor = next((answer[k] for k in CURSOR_KEYS if isinstance(answer.get(k), str) and answer[k]), None)
    return ListAnswer(rows, best, keyed, others, _as_int(answer.get("total")), cursor)


def _is_rows(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).isdigit() for k in value)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list | dict) else 0


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def preview_long_text(record: Any, reader: str | None) -> tuple[Any, int]:
    """The record with each text field over PREVIEW_OVER characters shortened, and how many were."""
    count = 0
    where = f"; {reader} reads it in full" if reader else ""

    def walk(node: Any) -> Any:
        nonlocal count
        if isinstance(node, str) and len(node) > PREVIEW_OVER:
            count += 1
            return f"{node[:PREVIEW_CHARS]}… [preview: {PREVIEW_CHARS} of {len(node):,} characters{where}]"
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        return node

    return walk(record), count


@dataclass
class FittedList:
    """The records kept (with their envelope still to add) and what the model must be told."""

    listing: ListAnswer
    notes: list[str]

    @property
    def shown(self) -> int:
        """How many records were kept."""
        return len(self.listing.rows)


def fit_list(listing: ListAnswer, max_chars: int, reader: Reader, *, next_size: int = 0) -> FittedList:
    """Preview long text, drop nulls, then keep as many records, in order, as fit `max_chars`.

    `next_size` is about how long the `next` arguments will be. Records are shaped one
    at a time and the first that does not fit ends the page, so a 15 MB answer costs
    what the page shown costs. At least one record is always kept: a record too long
    on its own has its longest text fields cut (and then its trailing fields left
    out), and the note names them.
    """
    others = drop_nulls(listing.others)
    budget = max_chars - ENVELOPE_ROOM - next_size - len(compact(others))
    rows: list[tuple[str | None, Any]] = []
    previews = 0
    used = 2
    first: tuple[str | None, Any, int, int] | None = None
    for key, record in listing.rows:
        shortened, count = preview_long_text(drop_nulls(record), reader(record))
        length = len(compact(shortened))
        size = length + 1 + (len(compact(key)) + 1 if key is not None else 0)
        if used + size > budget:
            if not rows:
                first = (key, shortened, count, length)
            break
        used += size
        rows.append((key, shortened))
        previews += count
    notes: list[str] = []
    if first is not None:
        rows, notes = _alone(first, listing, budget, max_chars, reader)
    elif previews:
        notes.append(f"{previews} long text field(s) are shown as previews")
    kept = ListAnswer(rows, listing.key, listing.keyed, others, listing.total, listing.cursor)
    return FittedList(kept, notes)


def _alone(
    first: tuple[str | None, Any, int, int], listing: ListAnswer, budget: int, max_chars: int, reader: Reader
) -> tuple[list[tuple[str | None, Any]], list[str]]:
    """A first record too long for the page on its own: its longest text cut, then its trailing fields left out.

    `first` is (its key, the record as shaped, how many previews it holds, its compact JSON's length).
    """
    key, record, previews, length = first
    room = max(budget - NOTE_CHARS // 2, 2 * MIN_KEPT)
    record, cut = fit_value_parts(record, room, size=length)
    record, left_out = _keep_leading_fields(record, room)
    notes = [f"{previews} long text field(s) are shown as previews"] if previews else []
    notes.append(_cut_note(cut, max_chars))
    if left_out:
        read = reader(listing.rows[0][1])
        where = f" ({read} reads it in full)" if read else ""
        names = ", ".join(left_out[:6]) + (f" and {len(left_out) - 6} more" if len(left_out) > 6 else "")
        notes.append(f"fields left out of the first record{where}: {names}")
    return [(key, record)], notes


def render_list(
    fitted: FittedList, *, of: int, next_arguments: Mapping[str, Any] | None, max_chars: int, more: str = ""
) -> str:
    """The list as JSON, with `total`, `next` and `note` before the records so cut text still shows them."""
    listing = fitted.listing
    notes = list(fitted.notes)
    if fitted.shown < of:
        notes.insert(0, f"{fitted.shown} of the {of} records on this page fit the size cap")
    if more:
        notes.append(more)
    head: dict[str, Any] = {}
    if listing.total is not None:
        head["total"] = listing.total
    if next_arguments is not None:
        head["next"] = dict(next_arguments)
    if notes:
        note = "; ".join(notes)
        head["note"] = clip(note, NOTE_CHARS) + "."
    records: Any = dict(listing.rows) if listing.keyed else [record for _, record in listing.rows]
    if listing.key is None and not listing.others and not head:
        return cut_text(compact(records), max_chars)
    return cut_text(compact({**head, **listing.others, listing.key or "records": records}), max_chars)


def fit_value(value: Any, max_chars: int) -> str:
    """Any answer as compact JSON; when too long, its longest text fields are cut and named in a `note`."""
    value = drop_nulls(value)
    text = compact(value)
    if len(text) <= max_chars:
        return text
    fitted, cut = fit_value_parts(value, max_chars - ENVELOPE_ROOM, size=len(text))
    note = _cut_note(cut, max_chars)
    wrapped = {"note": note, **fitted} if isinstance(fitted, dict) else {"note": note, "result": fitted}
    text = compact(wrapped)
    if len(text) <= max_chars:
        return text
    return cut_text(text, max_chars)


def fit_value_parts(value: Any, budget: int, *, size: int | None = None) -> tuple[Any, list[tuple[str, int, int]]]:
    """Cut the longest text fields, longest first, until the value fits `budget` (or none is left to cut).

    `value` must be the caller's own copy (from `drop_nulls`): fields are cut in place, so
    each cut costs its path, not a copy of every list on the way. A field too short for a
    cut to save anything is left whole. `size` is the length of `value` as compact JSON,
    when the caller has measured it already (it is measured here otherwise). Returns the
    value and, per cut field, (its path, characters kept, characters in all).
    """
    leaves: list[tuple[int, tuple[Any, ...]]] = []

    def collect(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, str) and len(node) > MIN_KEPT + CUT_MARKER:
            leaves.append((len(node), path))
        elif isinstance(node, dict):
            for key, item in node.items():
                collect(item, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                collect(item, (*path, index))

    collect(value, ())
    leaves.sort(key=lambda leaf: -leaf[0])
    excess = (len(compact(value)) if size is None else size) - budget
    cuts: list[tuple[str, int, int]] = []
    for length, path in leaves:
        if excess <= 0:
            break
        keep = max(MIN_KEPT, length - excess - CUT_MARKER)
        if keep + CUT_MARKER >= length:
            continue
        shortened = f"{_get(value, path)[:keep]}… [cut: {keep:,} of {length:,} characters]"
        value = _set(value, path, shortened)
        excess -= length - len(shortened)
        cuts.append((_path_text(path), keep, length))
    return value, cuts


def _keep_leading_fields(record: Any, budget: int) -> tuple[Any, list[str]]:
    """A record still too long after its text was cut keeps its leading fields (the id first) that fit."""
    if not isinstance(record, dict) or len(compact(record)) <= budget:
        return record, []
    kept: dict[str, Any] = {}
    left_out: list[str] = []
    used = 2
    ordered = sorted(record.items(), key=lambda item: item[0] != "id")
    for key, value in ordered:
        size = len(compact(key)) + len(compact(value)) + 2
        if used + size <= budget or key == "id":
            kept[key] = value
            used += size
        else:
            left_out.append(key)
    return kept, left_out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """`value` with the leaf at `path` replaced, in place (the root itself when the path is empty)."""
    if not path:
        return new
    _get(value, path[:-1])[path[-1]] = new
    return value


def _path_text(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return f"'{text or 'the answer'}'"


def _cut_note(cuts: list[tuple[str, int, int]], max_chars: int) -> str:
    cap = f"to fit the {max_chars:,}-character cap (the server's --max-result-chars)"
    if not cuts:
        return f"the answer was cut {cap}"
    fields = ", ".join(f"{path} {kept:,} of {length:,}" for path, kept, length in cuts[:3])
    more = f" and {len(cuts) - 3} more" if len(cuts) > 3 else ""
    return f"text cut {cap}, characters kept: {fields}{more}"


def cut_text(text: str, max_chars: int) -> str:
    """Text longer than the cap, cut, saying how much was left out and what sets the cap."""
    if len(text) <= max_chars:
        return text
    note = (
        f"\n… [cut: {len(text):,} characters in all, the first {max_chars - 200:,} shown; "
        "the server's --max-result-chars sets the cap]"
    )
    return text[: max_chars - 200] + note


T = TypeVar("T")

INLINE_FIT_NODES: Final = 2000
"""An answer with at most this many values and characters/64 is fitted on the event loop: a worker
thread's hand-off costs more than fitting it (a fraction of a millisecond)."""


async def off_loop_if_large(answer: Any, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` in a worker thread when `answer` is large, else at once (no thread hand-off)."""
    if is_small(answer):
        return work(*args)
    return await anyio.to_thread.run_sync(work, *args)


def is_small(answer: Any, budget: int = INLINE_FIT_NODES) -> bool:
    """Whether `answer` holds at most `budget` values (a string counting one per 64 characters).

    Stops as soon as the budget is spent, so a large answer costs no more than a small one to judge."""
    stack = [answer]
    while stack:
        value = stack.pop()
        budget -= 1 + (len(value) >> 6 if isinstance(value, str) else 0)
        if budget < 0:
            return False
        if isinstance(value, dict):
            stack.extend(value.values())
            budget -= len(value)
        elif isinstance(value, list):
            stack.extend(value)
    return True
