"""Checking arguments: one walk of the arguments decides how deep and how large they are, and where they are checked."""

from __future__ import annotations

from typing import Any

import pytest

from mautic_mcp.tools import validation
from mautic_mcp.tools.validation import INLINE_WORK, MAX_DEPTH, ArgumentsValidator

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}}},
    "required": ["tags"],
    "$defs": {"unused": {"const": {"pattern": "x"}}},
}


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_a_schema_is_surveyed_for_its_keywords_and_its_size_in_one_walk():
    keywords, values = validation._survey(SCHEMA)
    assert keywords == {"type", "properties", "items", "enum", "required", "$defs", "const"}
    assert "pattern" not in keywords, "what `const` holds is a value, not a keyword"
    # Every JSON value counts, the objects of named schemas and what `enum`, `required` and `const` hold included.
    assert values == 17
    assert not ArgumentsValidator(SCHEMA).slow


@pytest.mark.parametrize("levels", [1, 2, MAX_DEPTH, MAX_DEPTH + 1, 5000])
def test_depth_is_measured_exactly_up_to_the_limit(levels: int):
    depth, values = validation._measure(nested(levels), MAX_DEPTH)
    assert depth == min(levels, MAX_DEPTH + 1)
    assert values == depth, "a chain of objects holds one value per level; the walk stops past the limit"
    assert validation._measure({"a": [1, {"b": None}], "c": "x"}, MAX_DEPTH) == (4, 6)


async def test_check_walks_the_arguments_once(monkeypatch: pytest.MonkeyPatch):
    walks: list[Any] = []
    real = validation._measure

    def measure(value: Any, limit: int) -> tuple[int, int]:
        walks.append(value)
        return real(value, limit)

    monkeypatch.setattr(validation, "_measure", measure)
    check = ArgumentsValidator(SCHEMA)
    assert await check.check({"tags": ["a", "z"]}) == ['\'tags[1]\': must be one of "a", "b", "c"']
    assert len(walks) == 1
    walks.clear()
    assert await check.check({"tags": [], "x": nested(MAX_DEPTH)}) == [validation.TOO_DEEP]
    assert len(walks) == 1
    walks.clear()
    assert check.errors({"tags": [], "x": nested(MAX_DEPTH)}) == [validation.TOO_DEEP], "errors() tests depth itself"
    assert check.errors({"tags": ["b"]}) == [] and len(walks) == 2


async def test_arguments_too_large_to_check_quickly_go_to_a_worker(monkeypatch: pytest.MonkeyPatch):
    sent: list[Any] = []

    async def in_worker(schema: dict[str, Any], arguments: dict[str, Any], seconds: float) -> list[str]:
        sent.append(arguments)
        return []

    monkeypatch.setattr(validation, "_in_worker", in_worker)
    check = ArgumentsValidator(SCHEMA)
    nodes = validation._survey(SCHEMA)[1]
    fits = INLINE_WORK // nodes - 2  # the object and its list are two values more
    assert await check.check({"tags": ["a"] * fits}) == [] and not sent
    assert await check.check({"tags": ["a"] * (fits + 1)}) == [] and len(sent) == 1
