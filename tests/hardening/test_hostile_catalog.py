"""A hostile catalog, through a real server: one bad action costs at most its own calls, never the server.

Anyone in a Membrane workspace can write a custom action, so a fake `membrane` lists entries written to
hurt: references to a URL that would hang, `$ref`s that double at every level, schemas nested deep,
keywords the metaschema refuses, root combinators, a catastrophic `pattern`, `uniqueItems` over
thousands of objects, unchecked formats, writes named like reads, a name that is `proxy_request` in
another case, huge texts, and a 15 MB answer. Each case checks that the server answers that request,
answers the next one, and leaves no process behind.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp.shared.exceptions import MCPError
from mcp.types import Tool

from mautic_mcp.tools import validation
from tests.hardening.catalog_fakes import app_on_fake, fake_invocations, fake_membrane, worker_processes
from tests.hardening.helpers import NOTHING_SENT, Served, served, text, wait_all_gone
from tests.hostile_schemas import REFERENCE_KEYWORDS, accepted, exponential, nested, remote, silent_listener
from tests.support import Sandbox

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake CLI is a script with a shebang; /proc")

ANSWERS_WITHIN = 2.0
"""A ping or another call answers within this many seconds, whatever else the server is doing."""


def entry(action_id: str, key: str, schema: Any = None, *, kind: str = "connector-operation", **more: Any) -> dict:
    return {"id": action_id, "key": key, "name": more.pop("name", key), "type": kind, "inputSchema": schema, **more}


BROKEN = {
    "a": {"type": "string", "maxLength": "10"},
    "b": {"type": "string", "pattern": "(["},
    "c": {"type": "number", "multipleOf": 0},
    "d": {"type": "string", "enum": "abc"},
}


def catalog(port: int) -> list[dict[str, Any]]:
    return [
        entry("echo", "get-contact", {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}),
        entry("remote", "get-remote", remote(port)),
        entry("exponential", "list-exponential", exponential(22)),
        entry("deep", "list-deep", nested(90)),  # 180 JSON levels: the CLI output reader refuses over 200
        entry("broken", "create-broken", {"type": "object", "properties": BROKEN}),
        entry(
            "all-of",
            "create-all-of",
            {
                "allOf": [
                    {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                    {"properties": {"email": {"type": "string", "format": "email"}}},
                ]
            },
        ),
        entry(
            "one-of",
            "find-one-of",
            {
                "oneOf": [
                    {"properties": {"id": {"type": "integer"}}, "required": ["id"]},
                    {"properties": {"email": {"type": "string"}}, "required": ["email"]},
                ]
            },
        ),
        entry(
            "pattern",
            "find-by-code",
            {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}},
        ),
        entry(
            "unique",
            "tag-things",
            {
                "type": "object",
                "properties": {"tags": {"type": "array", "uniqueItems": True, "items": {"type": "object"}}},
            },
        ),
        entry(
            "formats",
            "create-person",
            {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "born": {"type": "string", "format": "date"},
                    "at": {"type": "string", "format": "date-time"},
                    "site": {"type": "string", "format": "uri"},
                },
            },
        ),
        entry("find-or-create", "find-or-create-contact", kind="create-data-record"),
        entry("get-or-create", "get-or-create-segment"),
        entry("get-and-delete", "getAndDeleteContact", {"type": "object"}, kind="delete-data-record"),
        entry("proxy-1", "Proxy_Request"),
        entry("proxy-2", "PROXY-REQUEST"),
        entry(
            "huge",
            "list-huge",
            {"type": "object", "properties": {"limit": {"type": "integer"}}},
            kind="list-data-records",
        ),
        entry("huge-object", "get-report", {"type": "object"}, kind="find-data-record-by-id"),
        entry(
            "loud",
            "get-loud",
            {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": [f"v{n}" for n in range(5000)], "title": "T" * 10_000},
                    "mode": {"type": "string", "enum": ["a", "b"], "description": "d" * 10_000},
                },
            },
            name="N" * 100_000,
            description="D" * 1_000_000,
        ),
    ]


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    with silent_listener() as sock:
        yield sock


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, listener: socket.socket) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    fake_membrane(folder, catalog(listener.getsockname()[1]))
    return folder


def box_in(folder: Path) -> Sandbox:
    return Sandbox(db=folder / "unused.db", knobs=folder / "knobs.json", log=folder / "invocations.jsonl")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[Served]:
    with served(app_on_fake(folder / "membrane", intents=["all"]), box_in(folder)) as running:
        yield running
    wait_all_gone(fake_invocations(folder))
    assert not worker_processes(), "no checking process outlives its check"


@pytest.fixture(scope="module")
def listing(server: Served) -> dict[str, Tool]:
    return {tool.name: tool for tool in server.tools()}


def echoed(server: Served, name: str, arguments: dict[str, Any]) -> Any:
    result = server.call(name, arguments)
    assert not result.is_error, text(result)[:500]
    return json.loads(text(result))["input"]


def refused(server: Served, name: str, arguments: dict[str, Any]) -> str:
    result = server.call(name, arguments)
    message = text(result)
    assert result.is_error, message[:500]
    assert "internal error" not in message and "Traceback" not in message, message
    return message


def still_serves(server: Served) -> None:
    assert echoed(server, "get_contact", {"id": 7}) == {"id": 7}


def timed(call: Any) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


# --- the listing ------------------------------------------------------------------------------------------


def test_every_tool_is_listed_with_a_valid_bounded_schema(server: Served, listing: dict[str, Tool]):
    for name in ("get_remote", "list_exponential", "list_deep", "create_broken", "create_all_of", "find_by_code"):
        assert name in listing, sorted(listing)
    for tool in listing.values():
        Draft202012Validator.check_schema(tool.input_schema)
        advertised = json.dumps(tool.input_schema)
        for keyword in REFERENCE_KEYWORDS:
            assert f'"{keyword}"' not in advertised, (tool.name, keyword)
        assert len(advertised) < 400_000, (tool.name, len(advertised))
    still_serves(server)


def test_no_name_differs_from_another_or_from_proxy_request_only_by_case(listing: dict[str, Tool]):
    folded = [name.casefold() for name in listing]
    assert len(folded) == len(set(folded))
    assert folded.count("proxy_request") == 1 and "proxy_request" in listing


def test_advertised_titles_descriptions_and_enums_are_capped(listing: dict[str, Tool]):
    loud = listing["get_loud"]
    assert loud.title is not None and len(loud.title) <= 200
    assert loud.description is not None and len(loud.description) <= 1024
    kind = loud.input_schema["properties"]["kind"]
    assert "enum" not in kind and len(kind["title"]) <= 200, "an enum of 5,000 values is dropped"
    mode = loud.input_schema["properties"]["mode"]
    assert mode["enum"] == ["a", "b"] and len(mode["description"]) <= 500


# --- references, size and depth ------------------------------------------------------------------------------


def test_remote_and_dynamic_references_are_never_fetched(server: Served, listener: socket.socket):
    arguments = {"id": 1, "meta": {"x": 1}, "other": 5, "relative": "r", "again": [1], "anchored": "a"}
    assert timed(lambda: echoed(server, "get_remote", arguments)) < ANSWERS_WITHIN
    assert accepted(listener) == 0, "nothing may be fetched from a schema's URL"
    still_serves(server)


def test_exponential_and_deep_schemas_are_bounded_and_callable(server: Served, listing: dict[str, Tool]):
    assert len(json.dumps(listing["list_exponential"].input_schema)) < 400_000
    assert echoed(server, "list_exponential", {"id": 2, "tree": {"a": {"b": {}}}}) == {
        "id": 2,
        "tree": {"a": {"b": {}}},
    }
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(60):
        node["inner"] = {}
        node = node["inner"]
    assert echoed(server, "list_deep", {"id": 3, "deep": deep})["id"] == 3
    still_serves(server)


# --- keywords -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("a", "longer than ten"), ("b", "(["), ("c", 3.3), ("d", "zzz")])
def test_a_keyword_the_metaschema_refuses_costs_only_itself(server: Served, field: str, value: Any):
    assert echoed(server, "create_broken", {field: value}) == {field: value}
    assert "expected string" in refused(server, "create_broken", {"a": 5}), "the rest of the schema still checks"
    still_serves(server)


def test_root_combinators_accept_the_fields_of_their_branches(server: Served):
    assert echoed(server, "create_all_of", {"name": "Ada", "email": "ada@example.org"})["name"] == "Ada"
    assert "'name': required field is missing" in refused(server, "create_all_of", {"email": "ada@example.org"})
    assert "unknown field 'bogus'" in refused(server, "create_all_of", {"name": "Ada", "bogus": 1})
    assert echoed(server, "find_one_of", {"id": 4}) == {"id": 4}
    assert echoed(server, "find_one_of", {"email": "x@example.org"}) == {"email": "x@example.org"}
    assert "unknown field 'bogus'" in refused(server, "find_one_of", {"id": 4, "bogus": 1})
    still_serves(server)


@pytest.mark.parametrize(
    ("field", "bad", "good", "says"),
    [
        ("email", "not-an-email", "ada@example.org", "an email address"),
        ("born", "31/05/2024", "2024-05-31", "YYYY-MM-DD"),
        ("at", "2024-05-31 14:30", "2024-05-31T14:30:00Z", "RFC 3339"),
        ("site", "example dot com", "https://example.com/page", "an absolute URI"),
    ],
)
def test_formats_are_checked_before_any_process_starts(
    server: Served, folder: Path, field: str, bad: str, good: str, says: str
):
    before = len(fake_invocations(folder))
    message = refused(server, "create_person", {field: bad})
    assert f"'{field}': must be" in message and says in message and NOTHING_SENT in message, message
    assert len(fake_invocations(folder)) == before, "a refused call starts no process"
    assert echoed(server, "create_person", {field: good}) == {field: good}


# --- checks that could stall the event loop ------------------------------------------------------------------


def test_a_catastrophic_pattern_gives_up_in_time_while_the_server_keeps_answering(
    server: Served, folder: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(validation, "CHECK_SECONDS", 2.0)
    assert echoed(server, "find_by_code", {"code": "aaaa"}) == {"code": "aaaa"}, "a pattern that matches passes"
    assert "must match the pattern" in refused(server, "find_by_code", {"code": "abc"})
    before = len(fake_invocations(folder))
    started = time.monotonic()
    hostile = server.portal.start_task_soon(server.client.call_tool, "find_by_code", {"code": "a" * 30 + "!"})
    time.sleep(0.3)
    assert timed(lambda: server.portal.call(server.client.list_tools)) < ANSWERS_WITHIN
    assert timed(lambda: still_serves(server)) < ANSWERS_WITHIN
    result = hostile.result(timeout=30)
    elapsed = time.monotonic() - started
    message = text(result)
    assert result.is_error and "could not be checked within 2 s" in message and NOTHING_SENT in message, message
    assert elapsed < 5, elapsed
    assert len(fake_invocations(folder)) == before + 1, "only the get_contact call ran the CLI"
    deadline = time.monotonic() + 5
    while worker_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker_processes(), "the worker stuck in the pattern is killed"
    assert echoed(server, "find_by_code", {"code": "aa"}) == {"code": "aa"}, "and the next check works"


def test_unique_items_over_6000_objects_is_checked_in_a_moment(server: Served):
    tags = [{"n": n} for n in range(6000)]
    started = time.monotonic()
    result = server.call("tag_things", {"tags": tags})
    assert time.monotonic() - started < ANSWERS_WITHIN
    assert not result.is_error and '"tags":[{"n":0}' in text(result), text(result)[:300]
    duplicated = [*tags, {"n": 17}]
    message = refused(server, "tag_things", {"tags": duplicated})
    assert "items 17 and 6000 are the same" in message
    still_serves(server)


@pytest.mark.parametrize(("name", "arguments"), [("list_huge", {"limit": 100_000}), ("get_report", {})])
def test_a_15_mb_answer_is_shaped_while_the_server_keeps_answering(server: Served, name: str, arguments: dict):
    started = time.monotonic()
    huge = server.portal.start_task_soon(server.client.call_tool, name, arguments)
    slowest = 0.0
    calls = 0
    while not huge.done():
        slowest = max(slowest, timed(lambda: server.portal.call(server.client.list_tools)))
        calls += 1
        time.sleep(0.05)
    result = huge.result()
    elapsed = time.monotonic() - started
    shown = text(result)
    assert not result.is_error and len(shown) <= server.app.settings.max_result_chars, shown[:300]
    if name == "list_huge":
        body = json.loads(shown)
        assert body["total"] > 1_000 and body["records"] and "fit the size cap" in body["note"]
    else:
        assert "--max-result-chars" in shown
    assert calls >= 1 and slowest < ANSWERS_WITHIN, (calls, slowest, elapsed)
    still_serves(server)


# --- errors and read-only mode --------------------------------------------------------------------------------


def test_an_error_about_5000_unknown_fields_is_capped(server: Served):
    message = refused(server, "get_contact", {"id": 1, **{f"field_{n}": n for n in range(5000)}})
    assert len(message) <= 2_000 and "more" in message and NOTHING_SENT in message, message[-300:]
    still_serves(server)


def test_a_write_named_like_a_read_is_hinted_by_its_strongest_word(listing: dict[str, Tool]):
    hints = listing["get_and_delete_contact"].annotations
    assert hints is not None and hints.destructive_hint is True and hints.read_only_hint is False
    assert "Cannot be undone" in (listing["get_and_delete_contact"].description or "")
    for name in ("find_or_create_contact", "get_or_create_segment"):
        hints = listing[name].annotations
        assert hints is not None and hints.read_only_hint is False, name


def test_read_only_mode_hides_writes_that_start_with_a_read_verb(folder: Path):
    with served(app_on_fake(folder / "membrane", intents=["all"], read_only=True), box_in(folder)) as server:
        names = {tool.name for tool in server.tools()}
        assert "get_contact" in names and "get_remote" in names
        for name in ("find_or_create_contact", "get_or_create_segment", "get_and_delete_contact"):
            assert name not in names
            with pytest.raises(MCPError, match="read-only"):
                server.call(name, {})
        still_serves(server)
    wait_all_gone(fake_invocations(folder))
