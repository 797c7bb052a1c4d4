"""Schemas from an untrusted catalog: bounded, never fetched, repaired, and checked without stalling.

The same hostile shapes as tests/hardening/test_hostile_catalog.py, one layer down: what normalization
makes of each, what the validator refuses and how fast, and that building tools over them is quick and
small, and loses at most the one action that cannot be used.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.tools import actions, validation
from mautic_mcp.tools.actions import build_action_tools
from mautic_mcp.tools.formats import is_date, is_date_time, is_email, is_uri
from mautic_mcp.tools.results import MAX_ERROR_CHARS, invalid_arguments
from mautic_mcp.tools.schema import NODE_BUDGET, normalize
from mautic_mcp.tools.validation import ArgumentsValidator
from tests.hostile_schemas import REFERENCE_KEYWORDS, accepted, exponential, nested, remote, silent_listener


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with silent_listener() as sock:
        yield sock


def action(action_id: str, schema: Any, key: str = "") -> Action:
    """An action as it reaches this layer, unbounded: the catalog reader bounds schemas too, but not for us."""
    key = key or f"get-{action_id}"
    return Action(id=action_id, key=key, name=key, description="", type="", input_schema=schema, output_schema=None)


# --- references: nothing is fetched --------------------------------------------------------------------------


def test_remote_dynamic_and_anchored_references_are_stripped_and_never_fetched(listener: socket.socket):
    normalized = normalize(remote(listener.getsockname()[1]))
    advertised = json.dumps(normalized.schema)
    for keyword in REFERENCE_KEYWORDS:
        assert f'"{keyword}"' not in advertised, keyword
    assert any("nothing is fetched" in note for note in normalized.notes)
    check = ArgumentsValidator(normalized.schema)
    assert check.errors({"meta": {"a": 1}, "other": 5, "relative": [], "again": 1, "anchored": "x"}) == []
    assert not accepted(listener)


def test_a_validator_never_fetches_even_from_a_schema_that_was_not_normalized(listener: socket.socket):
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/x.json"
    started = time.monotonic()
    errors = ArgumentsValidator({"type": "object", "properties": {"x": {"$ref": url}}}).errors({"x": 1})
    assert time.monotonic() - started < 1
    assert errors and "could not be checked" in errors[0]
    assert not accepted(listener)


# --- size and depth ---------------------------------------------------------------------------------------------


def test_ref_expansion_stops_at_its_budget_and_says_so():
    started = time.monotonic()
    normalized = normalize(exponential(22))
    assert time.monotonic() - started < 1
    assert len(json.dumps(normalized.schema)) < 40 * NODE_BUDGET
    assert any(f"over {NODE_BUDGET:,} nodes" in note for note in normalized.notes)
    assert normalized.schema["properties"]["id"] == {"type": "integer"}
    Draft202012Validator.check_schema(normalized.schema)


def test_a_schema_nested_300_deep_is_cut_at_the_depth_bound():
    normalized = normalize(nested(300))
    assert any("nested more than 64 levels" in note for note in normalized.notes)
    Draft202012Validator.check_schema(normalized.schema)
    assert ArgumentsValidator(normalized.schema).errors({"id": 1, "deep": {"inner": {"inner": {}}}}) == []


def test_building_tools_over_a_hostile_catalog_is_fast_small_and_keeps_every_other_tool(
    listener: socket.socket, caplog: pytest.LogCaptureFixture
):
    catalog = [
        action("exponential", exponential(22)),
        action("deep", nested(300)),
        action("remote", remote(listener.getsockname()[1])),
        action("broken", {"type": "object", "properties": {"n": {"type": "string", "maxLength": "10"}}}),
        action("plain", {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}),
    ]
    tracemalloc.start()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mautic_mcp.tools.actions"):
        tools = build_action_tools(catalog, read_only=False, reserved=frozenset({"proxy_request"}))
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1, elapsed
    assert peak < 100 * 2**20, f"{peak:,} bytes"
    assert [tool.name for tool in tools] == ["get_exponential", "get_deep", "get_remote", "get_broken", "get_plain"]
    warned = caplog.text
    for name in ("get_exponential", "get_deep", "get_remote", "get_broken"):
        assert f"action {name} (" in warned, name
    assert "get_plain" not in warned
    assert tools[-1].validate({"id": 1}) == {"id": 1}


def test_an_action_whose_schema_cannot_be_used_is_left_out_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    real = actions.normalize

    def failing(schema: Any) -> Any:
        if isinstance(schema, dict) and schema.get("title") == "cursed":
            raise RecursionError("maximum recursion depth exceeded")
        return real(schema)

    monkeypatch.setattr(actions, "normalize", failing)
    catalog = [action("cursed", {"title": "cursed"}), action("fine", {"type": "object"})]
    with caplog.at_level(logging.WARNING, logger="mautic_mcp.tools.actions"):
        tools = build_action_tools(catalog, read_only=False, reserved=frozenset())
    assert [tool.name for tool in tools] == ["get_fine"]
    assert "action get_cursed ('cursed') left out" in caplog.text and "RecursionError" in caplog.text


# --- keywords the metaschema refuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value", "says"),
    [
        ("maxLength", "10", "maxLength"),
        ("pattern", "([", "pattern"),
        ("multipleOf", 0, "multipleOf"),
        ("enum", "abc", "enum"),
        ("minimum", {"deep": [1]}, "minimum"),
        ("pattern", "a{99999999999}", "pattern"),
        ("pattern", "(" * 2000 + ")" * 2000, "pattern"),
    ],
)
def test_a_keyword_the_metaschema_refuses_is_dropped_and_named(keyword: str, value: Any, says: str):
    normalized = normalize({"type": "object", "properties": {"x": {"type": "string", keyword: value}, "y": {}}})
    assert keyword not in normalized.schema["properties"]["x"]
    assert normalized.schema["properties"]["x"]["type"] == "string", "the rest of the field stays"
    assert any(says in note for note in normalized.notes), normalized.notes
    Draft202012Validator.check_schema(normalized.schema)
    check = ArgumentsValidator(normalized.schema)
    assert check.errors({"x": "whatever it is"}) == []
    assert check.errors({"x": 5}) == ["'x': expected string, got integer"]


def test_draft_07_forms_become_2020_12():
    normalized = normalize(
        {
            "type": "object",
            "properties": {
                "pair": {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "integer"}},
                "card": {"type": "string"},
            },
            "dependencies": {"card": ["billing"], "pair": {"required": ["card"]}},
        }
    )
    schema = normalized.schema
    assert schema["properties"]["pair"] == {
        "type": "array",
        "prefixItems": [{"type": "string"}],
        "items": {"type": "integer"},
    }
    assert schema["dependentRequired"] == {"card": ["billing"]} and schema["dependentSchemas"]["pair"]
    Draft202012Validator.check_schema(schema)


# --- root combinators --------------------------------------------------------------------------------------------


def test_root_all_of_branches_merge_into_the_root():
    schema = normalize(
        {
            "allOf": [
                {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                {"properties": {"email": {"type": "string"}, "name": {"maxLength": 20}}},
            ]
        }
    ).schema
    assert "allOf" not in schema and schema["required"] == ["name"]
    assert schema["properties"]["email"] == {"type": "string"}
    assert schema["properties"]["name"] == {"allOf": [{"type": "string"}, {"maxLength": 20}]}
    check = ArgumentsValidator(schema)
    assert check.errors({"name": "Ada", "email": "a@example.org"}) == []
    assert check.errors({"name": "A" * 30}) == ["'name': must be at most 20 characters long, got 30"]
    assert "unknown field 'x'" in check.errors({"name": "Ada", "x": 1})[0]


@pytest.mark.parametrize("combinator", ["oneOf", "anyOf"])
def test_root_one_of_and_any_of_keep_their_checks_and_name_their_fields(combinator: str):
    schema = normalize(
        {
            combinator: [
                {"properties": {"id": {"type": "integer"}}, "required": ["id"]},
                {"properties": {"email": {"type": "string"}}, "required": ["email"]},
            ]
        }
    ).schema
    assert schema["properties"] == {"id": {}, "email": {}} and schema["additionalProperties"] is False
    check = ArgumentsValidator(schema)
    assert check.errors({"id": 1}) == [] and check.errors({"email": "x"}) == []
    assert check.errors({}) == ["arguments: does not match any of the accepted forms"]
    assert "unknown field 'bogus'" in check.errors({"id": 1, "bogus": 2})[0]


def test_a_branch_that_allows_any_field_leaves_the_root_open():
    schema = normalize({"anyOf": [{"properties": {"id": {"type": "integer"}}, "additionalProperties": True}]}).schema
    assert "additionalProperties" not in schema
    assert ArgumentsValidator(schema).errors({"id": 1, "extra": "x"}) == []


# --- caps on what is advertised ------------------------------------------------------------------------------------


def test_titles_descriptions_enums_and_values_are_capped():
    normalized = normalize(
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "title": "T" * 5000, "description": "D" * 5000, "default": "x" * 5000},
                "b": {"type": "string", "enum": [f"v{n}" for n in range(501)], "examples": ["e" * 3000]},
                "c": {"type": "string", "enum": ["ok", "fine"], "x-vendor": "v" * 10_000, "$comment": "c" * 10_000},
                "n" * 300: {"type": "string"},
            },
        }
    )
    properties = normalized.schema["properties"]
    assert len(properties["a"]["title"]) == 200 and len(properties["a"]["description"]) == 500
    assert "default" not in properties["a"] and "enum" not in properties["b"] and "examples" not in properties["b"]
    assert properties["c"] == {"type": "string", "enum": ["ok", "fine"]}
    assert list(properties) == ["a", "b", "c"], "a property named with 300 characters is dropped"
    assert len(normalized.notes) >= 4


def test_lone_surrogates_are_replaced_so_the_list_encodes():
    schema = normalize(
        {"type": "object", "properties": {"a\ud800": {"type": "string", "description": "x\udfff"}}}
    ).schema
    json.dumps(schema, ensure_ascii=False).encode("utf-8")
    assert schema["properties"] == {"a\ufffd": {"type": "string", "description": "x\ufffd"}}


# --- formats ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["jane@example.com", "a.b+c@mail.example.org", "ü@bücher.de"])
def test_good_emails(value: str):
    assert is_email(value)


@pytest.mark.parametrize(
    "value", ["jane", "jane@", "@example.com", "a@b", "a b@example.com", "a@@example.com", "a@-x.com"]
)
def test_bad_emails(value: str):
    assert not is_email(value)


def test_dates_date_times_and_uris():
    assert is_date("2024-02-29") and not is_date("2023-02-29") and not is_date("20240531") and not is_date("2024-5-31")
    for good in ("2024-05-31T14:30:00Z", "2024-05-31t14:30:00.123+02:00", "2024-05-31 14:30:00-05:00"):
        assert is_date_time(good), good
    for bad in (
        "2024-05-31",
        "2024-05-31T14:30Z",
        "2024-05-31T25:00:00Z",
        "2024-05-31T14:30:00",
        "2024-13-01T00:00:00Z",
    ):
        assert not is_date_time(bad), bad
    for good in ("https://example.com/a?b=c#d", "mailto:jane@example.com", "urn:isbn:0451450523"):
        assert is_uri(good), good
    for bad in ("example.com", "/relative/path", "http://exa mple.com", "https://example.com/%zz", "1http://x"):
        assert not is_uri(bad), bad
    assert is_email(5) and is_uri(None), "a value that is not text is the type keyword's business"


def test_a_format_error_names_the_field_and_what_it_expects():
    check = ArgumentsValidator(
        normalize({"type": "object", "properties": {"born": {"type": "string", "format": "date"}}}).schema
    )
    assert check.errors({"born": "31/05/2024"}) == [
        "'born': must be a date as YYYY-MM-DD, e.g. 2024-05-31, got \"31/05/2024\""
    ]


# --- checks that could stall -----------------------------------------------------------------------------------------


def test_unique_items_is_linear_and_means_json_equality():
    check = ArgumentsValidator({"type": "object", "properties": {"t": {"type": "array", "uniqueItems": True}}})
    tags = [{"n": n, "name": f"tag {n}"} for n in range(6000)]
    started = time.monotonic()
    assert check.errors({"t": tags}) == []
    assert time.monotonic() - started < 0.5
    assert check.errors({"t": [*tags, {"name": "tag 5", "n": 5}]}) == [
        "'t': items 5 and 6000 are the same; each item must be different"
    ]
    assert check.errors({"t": [1, 1.0]}) and check.errors({"t": [[1, {"a": None}], [1.0, {"a": None}]]})
    assert check.errors({"t": [1, True, "1", None, [1], {"1": 1}]}) == []


PATTERN = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}


async def test_a_pattern_is_checked_in_a_worker_that_gives_up_at_the_deadline():
    check = ArgumentsValidator(normalize(PATTERN).schema)
    assert check.slow
    assert await check.check({"code": "aaa"}) == []
    assert await check.check({"code": "abc"}) == ["'code': must match the pattern \"^(a+)+$\""]
    started = time.monotonic()
    problems = await check.check({"code": "a" * 30 + "!"}, seconds=1)
    assert time.monotonic() - started < 3
    assert problems == [
        "the arguments could not be checked within 1 s (a pattern in this tool's schema takes too long on them); "
        "try shorter or simpler values"
    ]


async def test_a_schema_without_pattern_is_checked_in_process():
    check = ArgumentsValidator(normalize({"type": "object", "properties": {"n": {"type": "integer"}}}).schema)
    assert not check.slow
    assert await check.check({"n": "x"}) == ["'n': expected integer, got string"]


def test_a_pattern_in_a_property_name_is_not_a_keyword():
    check = ArgumentsValidator(normalize({"type": "object", "properties": {"pattern": {"type": "string"}}}).schema)
    assert not check.slow, "a field named `pattern` runs no regular expression"


# --- error texts --------------------------------------------------------------------------------------------------


def test_an_error_about_5000_unknown_fields_names_a_few_and_counts_the_rest():
    check = ArgumentsValidator(normalize({"type": "object", "properties": {"id": {"type": "integer"}}}).schema)
    problems = check.errors({"id": 1, **{f"field_{n:04}": n for n in range(5000)}})
    assert len(problems) == 1 and "… and 4980 more" in problems[0] and len(problems[0]) < 1000
    result = invalid_arguments("get_contact", "; ".join(["x" * 100] * 100))
    message = result.content[0].text  # type: ignore[union-attr]
    assert len(message) <= MAX_ERROR_CHARS and "more characters" in message
    assert message.endswith("Nothing was sent to Mautic; fix the arguments and call again.")


def test_the_deadline_is_a_setting_of_the_module():
    assert validation.CHECK_SECONDS == 5.0
