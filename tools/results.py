"""Shaping what a tool returns: compact JSON the model can read, cut to fit its context."""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent

LONG_STRING = 2_000
KEEP_OF_LONG_STRING = 500
TRUNCATION_KEY = "_truncated"


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def not_connected(tool: str, error: Exception) -> CallToolResult:
    """Nothing was sent: there is no usable connection, and the error says how to get one."""
    return error_result(f"{tool} could not run: {error}")


def invalid_arguments(tool: str, problems: str) -> CallToolResult:
    return error_result(
        f"Invalid arguments for {tool}: {problems}. Nothing was sent to Mautic; fix the arguments and call again."
    )


def text_result(text: str, max_chars: int) -> CallToolResult:
    if len(text) > max_chars:
        text = (
            text[:max_chars] + f"\n… [cut: {len(text):,} characters in all, {max_chars:,} shown. "
            "Ask for less: fewer records (limit), a narrower search, or one item by id.]"
        )
    return CallToolResult(content=[TextContent(type="text", text=text)])


def json_result(value: Any, max_chars: int) -> CallToolResult:
    """The value as compact JSON text and as `structured_content` (an object, as the spec asks).

    Keys whose value is null are left out: Mautic records carry dozens of empty
    fields, and an absent field reads the same to a model at a fraction of the size.
    """
    shaped = drop_nulls(value)
    text = compact(shaped)
    if len(text) > max_chars:
        shaped = fit(shaped, max_chars)
        text = compact(shaped)
    structured = shaped if isinstance(shaped, dict) else {"result": shaped}
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def fit(value: Any, max_chars: int) -> Any:
    """Shrink a JSON value until its compact text fits: long strings first, then trailing records."""
    size = len(compact(value))
    if size <= max_chars:
        return value
    notes: list[str] = []
    value, cut_strings = _cut_strings(value)
    if cut_strings:
        notes.append(
            f"{cut_strings} long text field(s) were cut to {KEEP_OF_LONG_STRING} characters; "
            "fetch one item by id to read a field in full"
        )
    budget = max_chars - 400
    if len(compact(value)) > budget:
        value, dropped, kept = _drop_records(value, budget)
        if dropped:
            notes.append(
                f"showing the first {kept} of {kept + dropped} records; ask for fewer (a lower limit) "
                "or page on (start, cursor or page) to see the rest"
            )
    if len(compact(value)) > budget:
        text = compact(value)
        return {
            TRUNCATION_KEY: f"the result was {size:,} characters; only the first {budget:,} are shown. "
            "Ask for less: fewer records, a narrower search, or one item by id.",
            "partial": text[:budget],
        }
    wrapped = value if isinstance(value, dict) else {"result": value}
    return {**wrapped, TRUNCATION_KEY: "; ".join(notes) + "."}


def _cut_strings(value: Any) -> tuple[Any, int]:
    count = 0

    def walk(node: Any) -> Any:
        nonlocal count
        if isinstance(node, str) and len(node) > LONG_STRING:
            count += 1
            return node[:KEEP_OF_LONG_STRING] + f"… [cut {len(node) - KEEP_OF_LONG_STRING:,} characters]"
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        return node

    return walk(value), count


def _drop_records(value: Any, budget: int) -> tuple[Any, int, int]:
    """Trim the largest collection (a list, or Mautic's rows keyed by id) to fit the budget."""
    path = _largest_collection(value)
    if path is None:
        return value, 0, 0
    parent_holder = {"root": value}
    parent: Any = parent_holder
    key: Any = "root"
    for step in path:
        parent, key = parent[key], step
    collection = parent[key]
    items = list(collection.items()) if isinstance(collection, dict) else list(collection)

    def rebuild(count: int) -> Any:
        trimmed = dict(items[:count]) if isinstance(collection, dict) else items[:count]
        parent[key] = trimmed
        return parent_holder["root"]

    low, high = 0, len(items)
    while low < high:
        middle = (low + high + 1) // 2
        if len(compact(rebuild(middle))) <= budget:
            low = middle
        else:
            high = middle - 1
    result = rebuild(low)
    return result, len(items) - low, low


def _largest_collection(value: Any) -> list[Any] | None:
    """Path to the biggest list or id-keyed mapping within two levels of the root."""
    best: tuple[int, list[Any]] | None = None

    def consider(node: Any, path: list[Any], level: int) -> None:
        nonlocal best
        if (isinstance(node, list) and len(node) > 1) or _is_rows(node):
            size = len(compact(node))
            if best is None or size > best[0]:
                best = (size, path)
        if level < 2 and isinstance(node, dict):
            for key, child in node.items():
                consider(child, [*path, key], level + 1)

    consider(value, [], 0)
    return best[1] if best else None


def _is_rows(node: Any) -> bool:
    return isinstance(node, dict) and len(node) > 1 and all(str(k).isdigit() for k in node)
