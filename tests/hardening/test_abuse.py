"""Abuse: proxy_request stays inside the Mautic API, read-only mode holds, and logs keep secrets out.

Every refusal must come before a CLI process starts: the sandbox's invocation log is the witness.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError

from mautic_mcp.tools.naming import snake_case
from tests.hardening.helpers import (
    NOTHING_SENT,
    RawSession,
    Served,
    app_on,
    clean_environ,
    log_lines,
    make_sandbox,
    new_invocations,
    served,
    text,
)
from tests.support import Sandbox, action_tools

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PROXY = "proxy_request"
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[Served]:
    box = make_sandbox(tmp_path_factory.mktemp("abuse"), seeded_db)
    with served(app_on(box), box) as running:
        running.tools()
        yield running


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[Served]:
    box = make_sandbox(tmp_path_factory.mktemp("read-only"), seeded_db)
    with served(app_on(box, read_only=True), box) as running:
        yield running


def refused(server: Served, arguments: Any, *phrases: str) -> str:
    before = log_lines(server.box)
    result = server.call(PROXY, arguments)
    message = text(result)
    assert result.is_error, f"accepted {arguments!r}: {message[:300]}"
    assert NOTHING_SENT in message, message
    for phrase in phrases:
        assert phrase in message, message
    assert log_lines(server.box) == before, f"a CLI process started for {arguments!r}"
    return message


# --- paths ---------------------------------------------------------------------------------------------

BAD_PATHS = [
    "https://evil.example/api/contacts",
    "http://127.0.0.1/api/contacts",
    "HTTPS://EVIL.EXAMPLE/api",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "//evil.example/api/contacts",
    "///evil.example/api",
    "/api//evil.example/contacts",
    "/api/../oauth/v2/token",
    "/api/contacts/../../etc/passwd",
    "/api/contacts/..",
    "/api/./contacts",
    "/api/%2e%2e/oauth/v2/token",
    "/api/%2E%2E/oauth",
    "/api/.%2e/oauth",
    "/api/%2e./oauth",
    "/api/%252e%252e/oauth",
    "/api/%25252e%25252e/oauth",
    "/api/contacts%2f..%2f..%2foauth",
    "/api/contacts/%2e%2e%2f%2e%2e%2foauth",
    "/api\\contacts",
    "/api/contacts\\..\\..\\oauth",
    "/api/%5c..%5coauth",
    "/api/contacts\r\nX-Evil: 1",
    "/api/contacts\nHost: evil.example",
    "/api/contacts\x00.json",
    "/api/contacts\x7f",
    "/api/contacts%0d%0aX-Evil:%201",
    "/api/contacts?search=a%0d%0aHost:%20evil",
    "/api/contacts?search=%00",
    "/api/contacts#fragment",
    "/api/contacts%23x",
    "/api/contacts%3fsearch=x",
    "/oauth/v2/token",
    "/apiX/contacts",
    "contacts",
    "/index.php/api/contacts",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_paths_that_leave_the_api_are_refused(server: Served, path: str):
    refused(server, {"path": path}, "'path'")


@pytest.mark.parametrize(
    "path", ["https://evil.example/api/contacts", "//evil.example/api/contacts", "mailto:x@evil.example"]
)
def test_a_url_is_refused_as_a_url(server: Served, path: str):
    """Not only refused (the /api/ prefix rule would do that) but told why: a path, not a URL or host."""
    refused(server, {"path": path}, "'path'", "URL")


def test_traversal_anywhere_in_a_path_is_refused(server: Served):
    dots = [
        "..",
        "%2e%2e",
        "%2E%2e",
        ".%2e",
        "%2e.",
        "%252e%252e",
        "%25252e%25252e",
        ".",
        "%2e",
        "%252e",
    ]
    segment = st.from_regex(r"\A[A-Za-z0-9_-]{1,8}\Z")

    @FAST
    @given(st.lists(segment, min_size=1, max_size=4), st.data())
    def check(segments: list[str], data: st.DataObject) -> None:
        where = data.draw(st.integers(min_value=0, max_value=len(segments)))
        parts = [*segments[:where], data.draw(st.sampled_from(dots)), *segments[where:]]
        refused(server, {"path": "/api/" + "/".join(parts)}, "'path'")

    check()
    assert not server.call(PROXY, {"path": "/api/contacts/1"}).is_error


def test_scheme_or_host_anywhere_is_refused(server: Served):
    @FAST
    @given(
        st.sampled_from(["http", "https", "HTTP", "ftp", "file", "gopher", "data"]),
        st.from_regex(r"\A[a-z0-9.-]{1,20}\Z"),
        st.sampled_from(["://", ":", ":/"]),
    )
    def check(scheme: str, host: str, separator: str) -> None:
        refused(server, {"path": f"{scheme}{separator}{host}/api/contacts"}, "'path'")
        refused(server, {"path": f"//{host}/api/contacts"}, "'path'")

    check()


# --- query and headers ------------------------------------------------------------------------------------

CONTROL = ["\r\n", "\n", "\r", "\x00", "\x1b", "\x7f", "\x0b", "\x0c"]


@pytest.mark.parametrize("control", CONTROL, ids=repr)
def test_control_characters_in_query_keys_and_values_are_refused(server: Served, control: str):
    refused(server, {"path": "/api/contacts", "query": {f"search{control}X": "a"}}, "'query'")
    refused(server, {"path": "/api/contacts", "query": {"search": f"a{control}Host: evil"}}, "control characters")
    refused(server, {"path": "/api/contacts", "query": {"search": ["ok", f"b{control}"]}}, "control characters")


@pytest.mark.parametrize("control", CONTROL, ids=repr)
def test_control_characters_in_header_names_and_values_are_refused(server: Served, control: str):
    refused(server, {"path": "/api/contacts", "headers": {f"X-A{control}Authorization": "x"}}, "'headers'")
    refused(server, {"path": "/api/contacts", "headers": {"X-A": f"1{control}Cookie: s=1"}}, "control characters")


@pytest.mark.parametrize("name", ["", "X A", "X:A", "X-\u00e9", "(", "a" * 129])
def test_malformed_header_names_are_refused(server: Served, name: str):
    refused(server, {"path": "/api/contacts", "headers": {name: "1"}}, "not a valid header name")


def test_query_keys_that_smuggle_pairs_are_refused(server: Served):
    refused(server, {"path": "/api/contacts", "query": {"a=b": "c"}}, "'query'")
    refused(server, {"path": "/api/contacts", "query": {"": "c"}}, "'query'")


FORBIDDEN = [
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
    "Host",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
]


def test_credential_and_routing_headers_are_refused_in_any_case(server: Served):
    @FAST
    @given(
        st.sampled_from(FORBIDDEN).flatmap(lambda n: st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in n)))
    )
    def check(letters: tuple[str, ...]) -> None:
        name = "".join(letters)
        refused(server, {"path": "/api/contacts", "headers": {name: "x"}}, "cannot be overridden")

    check()
    for name in ("authorization", "AUTHORIZATION", "cookie", "COOKIE", "host", "HOST", "Host"):
        refused(server, {"path": "/api/contacts", "headers": {"X-Fine": "1", name: "x"}}, "cannot be overridden")


def test_a_good_header_and_query_still_pass(server: Served):
    before = log_lines(server.box)
    result = server.call(PROXY, {"path": "/api/contacts", "query": {"limit": 1}, "headers": {"X-Request-Note": "a\tb"}})
    assert not result.is_error, text(result)
    assert len(new_invocations(server.box, before)) == 1


# --- secrets never reach the logs ----------------------------------------------------------------------------


def secret(kind: str) -> str:
    return f"SECRET-{kind}-{uuid.uuid4().hex}"


def sensitive_fields(box: Sandbox) -> dict[str, list[str]]:
    """tool name -> its fields that the catalog marks isSensitive or writeOnly, as the CLI itself lists them."""
    done = subprocess.run(
        [sys.executable, "-m", "mautic_mcp.sandbox", "action", "list", "--limit=100", "--json"],
        env={**clean_environ(), **box.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, list[str]] = {}
    for action in json.loads(done.stdout)["items"]:
        properties = (action.get("inputSchema") or {}).get("properties") or {}
        names = [k for k, v in properties.items() if v.get("isSensitive") or v.get("writeOnly")]
        if names:
            found[snake_case(action["key"])] = names
    return found


def test_refused_credentials_never_reach_the_logs(server: Served, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    token, cookie = secret("AUTH"), secret("COOKIE")
    refused(server, {"path": "/api/contacts", "headers": {"Authorization": f"Bearer {token}"}})
    refused(server, {"path": "/api/contacts", "headers": {"cookie": f"session={cookie}"}})
    refused(server, {"path": "/api/contacts", "headers": {"X-A": f"{token}\r\nCookie: {cookie}"}})
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert token not in logged and cookie not in logged


@pytest.mark.parametrize("fault", [None, "rate_limited", "crash", "garbage", "stderr_noise"])
def test_sensitive_fields_never_reach_the_logs(server: Served, caplog: pytest.LogCaptureFixture, fault: str | None):
    fields = sensitive_fields(server.box)
    assert fields.get("create_contact") == ["ipAddress"] and "update_contact" in fields
    caplog.set_level(logging.DEBUG)
    values = []
    try:
        if fault:
            server.box.set(fault=fault, fault_on="action run")
        for name, names in fields.items():
            arguments: dict[str, Any] = {name_: secret(name_) for name_ in names}
            values += arguments.values()
            arguments.update({"email": f"{uuid.uuid4().hex}@example.org"} if name == "create_contact" else {"id": 2})
            server.call(name, arguments)
            server.call(name, {**arguments, "points": "not a number"})
    finally:
        server.box.clear()
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert "membrane action run" in logged, "the test must see the server's own log lines"
    for value in values:
        assert value not in logged


def test_secrets_stay_out_of_a_debug_stderr_over_stdio(tmp_path: Path, seeded_db: Path):
    box = make_sandbox(tmp_path / "sandbox", seeded_db)
    token, cookie, ip = secret("AUTH"), secret("COOKIE"), secret("IP")
    with RawSession(box, tmp_path / "stderr.txt", MAUTIC_MCP_LOG_LEVEL="DEBUG") as session:
        session.initialize()
        answers = [
            session.call(PROXY, {"path": "/api/contacts", "headers": {"Authorization": f"Bearer {token}"}}),
            session.call(PROXY, {"path": "/api/contacts", "headers": {"Cookie": f"s={cookie}"}}),
            session.call("create_contact", {"email": "debug@example.org", "ipAddress": ip}),
            session.call("update_contact", {"id": 1, "ipAddress": ip, "points": "x"}),
        ]
        assert [a["result"]["isError"] for a in answers] == [True, True, False, True]
        session.close()
        stderr = session.stderr()
    assert "DEBUG" in stderr or "membrane action run" in stderr
    for value in (token, cookie, ip):
        assert value not in stderr


def test_a_malformed_request_does_not_log_its_secrets(tmp_path: Path, seeded_db: Path):
    box = make_sandbox(tmp_path / "sandbox", seeded_db)
    token = f"tok-{uuid.uuid4().hex[:8]}"
    cut_short = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": PROXY, "arguments": {"path": "/api/contacts", "headers": {"Authorization": token}}},
    }
    with RawSession(box, tmp_path / "stderr.txt", MAUTIC_MCP_LOG_LEVEL="DEBUG") as session:
        session.initialize()
        session.send(json.dumps(cut_short)[:-1].encode() + b"\n")
        assert PROXY in session.tool_names()
        session.close()
        stderr = session.stderr()
    assert "DEBUG" in stderr, "the server logged at DEBUG"
    assert token not in stderr


# --- read-only mode ---------------------------------------------------------------------------------------------


def test_read_only_lists_no_write_tool(server: Served, read_only: Served):
    every = action_tools(server.app)
    writes = {name for name, tool in every.items() if tool.kind.value != "read"}
    reads = set(every) - writes
    assert {"create_contact", "delete_contact", "update_company", "send_email_to_contact"} <= writes
    tools = {tool.name: tool for tool in read_only.tools()}
    assert not writes & set(tools)
    assert reads | {PROXY} == set(tools)
    for name, tool in tools.items():
        if name != PROXY:
            assert tool.annotations and tool.annotations.read_only_hint is True
    assert tools[PROXY].input_schema["properties"]["method"]["enum"] == ["GET"]


def test_read_only_refuses_every_write_tool_by_name(server: Served, read_only: Served):
    before = log_lines(read_only.box)
    for name, tool in action_tools(server.app).items():
        if tool.kind.value == "read":
            continue
        arguments = {field: 1 for field in tool.tool.input_schema.get("required", [])}
        if "email" in arguments:
            arguments["email"] = "ro@example.org"
        if "name" in arguments:
            arguments["name"] = "Read Only"
        try:
            result = read_only.call(name, arguments)
        except MCPError as error:
            assert name in error.error.message
        else:
            assert result.is_error and "read-only" in text(result), text(result)
    assert log_lines(read_only.box) == before


@pytest.mark.parametrize("method", [*WRITE_METHODS, "post", "Delete", " PATCH", "GET ", "HEAD", "OPTIONS", "TRACE"])
def test_read_only_proxy_sends_get_only(read_only: Served, method: str):
    before = log_lines(read_only.box)
    for path in (
        "/api/contacts/new",
        "/api/contacts/1/edit",
        "/api/contacts/1/delete",
        "/api/segments/1/contact/2/add",
    ):
        result = read_only.call(PROXY, {"method": method, "path": path, "body": {"email": "x@example.org"}})
        assert result.is_error and NOTHING_SENT in text(result), text(result)
        result = read_only.call(PROXY, {"method": method, "path": path})
        assert result.is_error and NOTHING_SENT in text(result), text(result)
    assert log_lines(read_only.box) == before


def test_read_only_log_shows_no_write_at_all(server: Served, read_only: Served):
    """After everything above and a few good reads, the CLI saw reads only."""
    assert not read_only.call(PROXY, {"path": "/api/contacts", "query": {"limit": 1}}).is_error
    assert not read_only.call("get_contact", {"id": 1}).is_error
    read_ids = {tool.action_id for tool in action_tools(server.app).values() if tool.kind.value == "read"}
    runs = read_only.box.commands()
    assert runs
    for argv in runs:
        if argv[:2] == ["action", "run"]:
            assert argv[2] in read_ids, argv
        if argv[:1] == ["request"]:
            assert "--method=GET" in argv and not any(a.startswith(("--data", "-d")) for a in argv), argv
        assert argv[:1] != ["connect"] and argv[:1] != ["reset"], argv


def test_names_and_ids_do_not_collide_into_a_write(read_only: Served):
    """Asking for a write by its action key, id or a case variant never reaches a write action."""
    before = log_lines(read_only.box)
    for name in ("CREATE-CONTACT", "create_contact", "create_contact ", "f43c780856d0e9a3215876cf", "proxy_request "):
        with pytest.raises(MCPError):
            read_only.call(name, {"email": "ro@example.org"})
    assert log_lines(read_only.box) == before
