"""Bad arguments over the whole catalog and proxy_request: refused by name, before any CLI process starts.

Property-based: hypothesis draws a tool and a field from what tools/list advertises, breaks the call in one
way (wrong type, missing, unknown, null, too deep, too long), and checks the answer names the field and
what is expected, that the sandbox logged no new process, and that the server then answers a valid call.
Valid values that look like CLI flags must travel as data inside one argv entry.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp.types import Tool

from tests.hardening.helpers import (
    NOTHING_SENT,
    Served,
    app_on,
    log_lines,
    make_sandbox,
    new_invocations,
    served,
    text,
)
from tests.support import action_tools

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PROXY = "proxy_request"
CONNECTION = "66a1f0c2b7e4d5a6c3b2a100"
ODD_PIECES = [
    "\x00",
    "\u202e",
    "\u200f",
    "\u200b",
    "\ufeff",
    "\uffff",
    "\ufffe",
    "\U0010ffff",
    "\U0001f4a5",
    "e\u0301",
    "\x7f",
    "\x1b[31m",
    "\r\n",
    "--",
    "-x",
    "'",
    '"',
    "\\",
    "{}",
]
odd_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30),
    st.lists(st.sampled_from(ODD_PIECES), min_size=1, max_size=5).map("".join),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), odd_text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[Served]:
    box = make_sandbox(tmp_path_factory.mktemp("bad-arguments"), seeded_db)
    with served(app_on(box), box) as running:
        yield running


@pytest.fixture(scope="module")
def catalog(server: Served) -> dict[str, Tool]:
    tools = {tool.name: tool for tool in server.tools()}
    assert PROXY in tools and len(tools) > 30
    for tool in tools.values():
        base = valid_base(tool)
        assert Draft202012Validator(tool.input_schema).is_valid(base), (tool.name, base)
    return tools


# --- what is valid and what is not, read from the advertised schemas ---------------------------------


def types_of(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def valid_value(name: str, schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    kind = (types_of(schema) or ["string"])[0]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if kind == "null":
        return None
    if name == "path":
        return "/api/contacts"
    if schema.get("format") == "email":
        return "hardening@example.org"
    return "x" * max(1, int(schema.get("minLength", 1)))


def valid_base(tool: Tool) -> dict[str, Any]:
    """The smallest valid arguments: every required field with a plain valid value."""
    properties = tool.input_schema.get("properties", {})
    return {name: valid_value(name, properties[name]) for name in tool.input_schema.get("required", [])}


def typed_fields(catalog: dict[str, Tool]) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """(tool, path, schema) of every field with a declared type, nested objects included."""
    found = []

    def walk(tool: str, path: tuple[str, ...], schema: dict[str, Any]) -> None:
        for name, sub in (schema.get("properties") or {}).items():
            if types_of(sub):
                found.append((tool, (*path, name), sub))
            if "object" in types_of(sub) and len(path) < 2:
                walk(tool, (*path, name), sub)

    for name, tool in sorted(catalog.items()):
        walk(name, (), tool.input_schema)
    return found


def wrong_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a JSON type the field does not accept (an integral number counts as an integer)."""
    allowed = set(types_of(schema))
    options = []
    if "null" not in allowed:
        options.append(st.none())
    if "boolean" not in allowed:
        options.append(st.booleans())
    if not allowed & {"integer", "number"}:
        options.append(st.integers())
    if "number" not in allowed:
        options.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()))
    if "string" not in allowed:
        options.append(odd_text)
    if "array" not in allowed:
        options.append(st.lists(scalars, max_size=3))
    if "object" not in allowed:
        options.append(st.dictionaries(st.text(max_size=5), scalars, max_size=3))
    return st.one_of(options)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def field_name(path: tuple[str, ...]) -> str:
    return "'" + ".".join(path) + "'"


def expected_type(schema: dict[str, Any]) -> str:
    kind = schema["type"]
    return " or ".join(kind) if isinstance(kind, list) else kind


def put(arguments: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = arguments
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return arguments


def refused(server: Served, name: str, arguments: Any) -> str:
    """Call, and check the call was refused by the server itself: an is_error result and no CLI process."""
    before = log_lines(server.box)
    result = server.call(name, arguments)
    message = text(result)
    assert result.is_error, f"{name} accepted {arguments!r}: {message[:300]}"
    assert f"Invalid arguments for {name}" in message and NOTHING_SENT in message, message[:500]
    assert log_lines(server.box) == before, f"a CLI process ran for invalid arguments to {name}"
    assert len(message) < 8_000, "the error repeats the input instead of naming the problem"
    return message


# --- the properties -----------------------------------------------------------------------------------


def test_wrong_types_are_named_with_the_expected_type(server: Served, catalog: dict[str, Tool]):
    fields = typed_fields(catalog)

    @FAST
    @given(st.sampled_from(fields).flatmap(lambda f: st.tuples(st.just(f), wrong_values(f[2]))))
    def check(case: tuple[tuple[str, tuple[str, ...], dict[str, Any]], Any]) -> None:
        (name, path, schema), value = case
        arguments = put(valid_base(catalog[name]), path, value)
        message = refused(server, name, arguments)
        assert f"{field_name(path)}: expected {expected_type(schema)}, got {json_type(value)}" in message

    check()
    server.assert_serves()


def test_every_field_refuses_null_unless_it_allows_it(server: Served, catalog: dict[str, Tool]):
    checked = 0
    for name, path, schema in typed_fields(catalog):
        if "null" in types_of(schema):
            continue
        message = refused(server, name, put(valid_base(catalog[name]), path, None))
        assert f"{field_name(path)}: expected {expected_type(schema)}, got null" in message
        checked += 1
    assert checked > 100
    server.assert_serves()


def test_missing_required_fields_are_each_named(server: Served, catalog: dict[str, Tool]):
    with_required = sorted(name for name, tool in catalog.items() if tool.input_schema.get("required"))
    assert PROXY in with_required and "create_contact" in with_required

    @FAST
    @given(st.sampled_from(with_required).flatmap(lambda n: st.tuples(st.just(n), st.data())))
    def check(case: tuple[str, st.DataObject]) -> None:
        name, data = case
        required = catalog[name].input_schema["required"]
        dropped = data.draw(st.lists(st.sampled_from(required), min_size=1, unique=True))
        arguments = {k: v for k, v in valid_base(catalog[name]).items() if k not in dropped}
        message = refused(server, name, arguments)
        for field in dropped:
            assert f"'{field}': required field is missing" in message

    check()
    server.assert_serves()


def test_unknown_top_level_fields_are_named_with_the_accepted_ones(server: Served, catalog: dict[str, Tool]):
    with_fields = sorted(name for name, tool in catalog.items() if tool.input_schema.get("properties"))

    @FAST
    @given(st.sampled_from(with_fields), odd_text)
    def check(name: str, key: str) -> None:
        accepted = sorted(catalog[name].input_schema["properties"])
        if key in accepted:
            key += "_unknown"
        message = refused(server, name, {**valid_base(catalog[name]), key: 1})
        assert f"unknown field {key!r}" in message or f"unknown field {json.dumps(key)}" in message
        assert f"accepted fields: {', '.join(accepted)}" in message

    check()
    server.assert_serves()


def test_a_tool_without_inputs_refuses_unknown_fields(server: Served, catalog: dict[str, Tool]):
    assert catalog["list_contact_fields"].input_schema.get("properties") == {}
    message = refused(server, "list_contact_fields", {"colour": "red"})
    assert "unknown field 'colour'" in message and "accepted fields: none" in message


def test_deep_nesting_is_refused_without_a_crash(server: Served, catalog: dict[str, Tool]):
    names = sorted(catalog)

    @settings(FAST, max_examples=30)
    @given(
        st.sampled_from(names),
        st.integers(min_value=65, max_value=200),  # deeper cannot leave the client: see test_protocol
        st.sampled_from(["list", "object"]),
        st.booleans(),
    )
    def check(name: str, depth: int, container: str, under_known_field: bool) -> None:
        value: Any = 1
        for _ in range(depth):
            value = [value] if container == "list" else {"a": value}
        properties = sorted(catalog[name].input_schema.get("properties") or {})
        key = properties[0] if under_known_field and properties else "deep"
        message = refused(server, name, {**valid_base(catalog[name]), key: value})
        assert "nested" in message and "64" in message

    check()
    server.assert_serves()


def test_megabyte_strings_are_refused_by_length_or_type(server: Served, catalog: dict[str, Tool]):
    """1 MB strings, only where they stay invalid: a field with maxLength, or a field that is not a string."""
    limited = [(n, p, s) for n, p, s in typed_fields(catalog) if "maxLength" in s]
    not_strings = [(n, p, s) for n, p, s in typed_fields(catalog) if "string" not in types_of(s)]
    assert (PROXY, ("path",), catalog[PROXY].input_schema["properties"]["path"]) in limited

    @settings(FAST, max_examples=20)
    @given(st.sampled_from(limited + not_strings), st.sampled_from(["x", "\u202e", "\x00", "\U0001f4a5", "-"]))
    def check(field: tuple[str, tuple[str, ...], dict[str, Any]], char: str) -> None:
        name, path, schema = field
        big = "/api/" + char * 1_000_000 if path == ("path",) else char * 1_000_000
        message = refused(server, name, put(valid_base(catalog[name]), path, big))
        if "maxLength" in schema:
            assert f"{field_name(path)}: must be at most {schema['maxLength']} characters long" in message
        else:
            assert f"{field_name(path)}: expected {expected_type(schema)}, got string" in message

    check()
    server.assert_serves()


def test_arguments_that_are_not_an_object_are_refused(server: Served, catalog: dict[str, Tool]):
    # The client library only sends objects; the server must still refuse what a raw client could send.
    for bad in ([1, 2], "id=1", 7, True):
        before = log_lines(server.box)
        result = server.portal.call(server.app.call_tool, "get_contact", bad)
        assert result.is_error and "arguments must be a JSON object" in text(result)
        result = server.portal.call(server.app.call_tool, PROXY, bad)
        assert result.is_error and "arguments must be a JSON object" in text(result)
        assert log_lines(server.box) == before
    server.assert_serves()


# --- too large for one argv entry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("create_note", {"contactId": 1, "text": "n" * 200_000}),
        ("create_company", {"name": "Big", "description": "\u00e9" * 70_000}),
        (PROXY, {"method": "POST", "path": "/api/notes/new", "body": {"lead": 1, "text": "b" * 200_000}}),
        (PROXY, {"method": "POST", "path": "/api/notes/new", "body": "raw " * 50_000}),
        (PROXY, {"path": "/api/contacts", "query": {"search": "q" * 200_000}}),
        (PROXY, {"path": "/api/contacts", "headers": {"X-Note": "h" * 200_000}}),
    ],
    ids=["note-text", "two-byte-chars", "proxy-json-body", "proxy-raw-body", "proxy-query", "proxy-header"],
)
def test_input_too_large_for_one_argument_is_a_clear_error(server: Served, name: str, arguments: dict[str, Any]):
    before = log_lines(server.box)
    result = server.call(name, arguments)
    message = text(result)
    assert result.is_error, message[:300]
    assert "too large" in message and "128 KiB" in message and "smaller" in message, message
    assert "Traceback" not in message and "internal error" not in message
    assert "unknown whether" not in message, "nothing ran, so the outcome is known"
    assert log_lines(server.box) == before
    server.assert_serves()


def test_many_arguments_over_the_total_argv_limit_are_a_clear_error(server: Served):
    """Each entry under 128 KiB, all together over the kernel's total: refused as too large, not a traceback."""
    before = log_lines(server.box)
    result = server.call(PROXY, {"path": "/api/contacts", "query": {"search": ["s" * 120_000] * 40}})
    message = text(result)
    assert result.is_error and "too large" in message, message[:400]
    assert "internal error" not in message
    assert log_lines(server.box) == before
    server.assert_serves()


# --- valid values that look like flags -----------------------------------------------------------------

FLAG_LIKE = [
    "-",
    "--",
    "-h",
    "--help",
    "--version",
    "--json",
    "-X",
    "--method=DELETE",
    "--connectionId=66a1f0c2b7e4d5a6c3b2a1ff",
    "--input={}",
    "--data=@/etc/passwd",
    "-H",
    "--rawData",
]
flag_like = st.one_of(st.sampled_from(FLAG_LIKE), st.from_regex(r"\A--?[A-Za-z][A-Za-z0-9_=.-]{0,20}\Z"))


def assert_one_entry_each(argv: list[str], expected: list[str]) -> None:
    """The CLI got exactly the argv the server means: each value inside its own `--flag=` entry."""
    assert argv == expected, f"argv was {argv}, expected {expected}"


def test_values_starting_with_dashes_are_data(server: Served):
    cases = [
        ("list_contacts", "search"),
        ("list_companies", "search"),
        ("contacts_find_by_tag", "tag"),
        ("create_note", "text"),
        ("create_company", "name"),
        ("create_segment", "description"),
    ]

    serial = itertools.count()

    @settings(FAST, max_examples=40)
    @given(st.sampled_from(cases), flag_like)
    def check(case: tuple[str, str], value: str) -> None:
        name, field = case
        arguments: dict[str, Any] = {field: value}
        if name == "create_note":
            arguments["contactId"] = 1
        if name == "create_segment":
            arguments["name"] = f"Dashes {next(serial)}"
        before = log_lines(server.box)
        result = server.call(name, arguments)
        message = text(result)
        assert "usage:" not in message.lower() and "unknown option" not in message.lower(), message
        assert not result.is_error, message[:400]
        runs = new_invocations(server.box, before)
        assert len(runs) == 1, runs
        argv = runs[0]["argv"]
        action_id = action_tools(server.app)[name].action_id
        payload = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        assert_one_entry_each(
            argv, ["action", "run", action_id, f"--connectionId={CONNECTION}", f"--input={payload}", "--json"]
        )
        assert json.loads(argv[4].removeprefix("--input="))[field] == value

    check()
    server.assert_serves()


def test_proxy_values_starting_with_dashes_are_data(server: Served):
    @settings(FAST, max_examples=30)
    @given(flag_like, st.sampled_from(["query", "header", "body"]))
    def check(value: str, where: str) -> None:
        head = ["request", CONNECTION]
        if where == "query":
            arguments: dict[str, Any] = {"path": "/api/contacts", "query": {"search": value, "limit": 1}}
            expected = [*head, "/api/contacts", "--method=GET", f"--query=search={value}", "--query=limit=1"]
        elif where == "header":
            arguments = {"path": "/api/contacts", "query": {"limit": 1}, "headers": {"X-Note": value}}
            expected = [*head, "/api/contacts", "--method=GET", "--query=limit=1", f"--header=X-Note: {value}"]
        else:
            arguments = {"method": "POST", "path": "/api/companies/new", "body": {"companyname": value}}
            body = json.dumps({"companyname": value}, separators=(",", ":"))
            expected = [*head, "/api/companies/new", "--method=POST", f"--data={body}", "--json"]
        before = log_lines(server.box)
        result = server.call(PROXY, arguments)
        message = text(result)
        assert not result.is_error, message[:400]
        runs = new_invocations(server.box, before)
        assert len(runs) == 1, runs
        argv = runs[0]["argv"]
        assert_one_entry_each(argv, expected)

    check()
    server.assert_serves()
