"""The proxy's guard: what `proxy_request` refuses before any process, and what it passes on."""

from __future__ import annotations

from typing import Any

import pytest

from mautic_mcp.tools.proxy import ProxyTool, parse
from mautic_mcp.tools.tool import InvalidArguments, Kind


def refusal(arguments: dict[str, Any], *, read_only: bool = False) -> str:
    with pytest.raises(InvalidArguments) as raised:
        parse(arguments, read_only=read_only)
    return str(raised.value)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("https://evil.example/api/contacts", "not a URL"),
        ("//evil.example/api/contacts", "not a URL"),
        ("javascript:alert(1)", "not a URL"),
        ("/api/../admin", "'..' segments"),
        ("/api/%2e%2e/admin", "'..' segments"),
        ("/api/%252e%252e/admin", "'..' segments"),
        ("/api/./contacts", "'..' segments"),
        ("/api/contacts\\..\\x", "backslashes"),
        ("/api/contacts%2f..%2fx", "'..' segments"),
        ("/api/contacts%2F%2Fx", "encoded '/'"),
        ("/api/contacts\r\nX-Evil: 1", "control characters"),
        ("/api/contacts#frag", "fragment"),
        ("/apix/contacts", "must start with /api/"),
        ("/index.php/api/contacts", "must start with /api/"),
        ("/api/contacts?search=%0d%0a", "control characters in the query"),
    ],
)
def test_paths_that_leave_the_api_are_refused(path: str, says: str):
    assert says in refusal({"path": path})


@pytest.mark.parametrize("header", ["Authorization", "authorization", "Cookie", "Host", "Content-Length", "Connection"])
def test_headers_membrane_sets_cannot_be_overridden(header: str):
    assert "set by Membrane" in refusal({"path": "/api/contacts", "headers": {header: "x"}})


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"X-Ok": "a\r\nInjected: 1"}, "control characters"),
        ({"Bad Name": "x"}, "not a valid header name"),
        ({"": "x"}, "not a valid header name"),
        ({"X-Long-" + "a" * 200: "x"}, "not a valid header name"),
    ],
)
def test_header_names_and_values_are_checked(headers: dict[str, str], says: str):
    assert says in refusal({"path": "/api/contacts", "headers": headers})


def test_a_tab_in_a_header_value_is_allowed():
    call = parse({"path": "/api/contacts", "headers": {"X-Note": "a\tb"}}, read_only=False)
    assert call.headers == (("X-Note", "a\tb"),)


@pytest.mark.parametrize(
    ("query", "says"),
    [({"": "x"}, "is not allowed"), ({"a=b": "x"}, "is not allowed"), ({"search": "x\ny"}, "control characters")],
)
def test_query_keys_and_values_are_checked(query: dict[str, Any], says: str):
    assert says in refusal({"path": "/api/contacts", "query": query})


def test_query_from_the_path_and_the_object_are_merged_in_order_with_scalars_as_text():
    call = parse(
        {"path": "/api/contacts?search=vip&start=0", "query": {"limit": 5, "published": True, "ids": [1, 2]}},
        read_only=False,
    )
    assert call.path == "/api/contacts"
    assert call.query == (
        ("search", "vip"),
        ("start", "0"),
        ("limit", "5"),
        ("published", "true"),
        ("ids", "1"),
        ("ids", "2"),
    )


def test_bodies_are_json_unless_a_string_is_not_json_and_get_takes_none():
    assert parse({"path": "/api/contacts/new", "method": "POST", "body": {"email": "a@b.c"}}, read_only=False).body == (
        '{"email":"a@b.c"}'
    )
    raw = parse({"path": "/api/contacts/new", "method": "POST", "body": "a=1&b=2"}, read_only=False)
    assert (raw.body, raw.json_body) == ("a=1&b=2", False)
    assert "GET request has no body" in refusal({"path": "/api/contacts", "body": {"x": 1}})


def test_read_only_mode_allows_get_only_in_the_check_and_in_the_schema():
    assert "read-only mode" in refusal({"path": "/api/contacts/1/delete", "method": "DELETE"}, read_only=True)
    tool = ProxyTool(read_only=True)
    assert tool.kind is Kind.READ
    assert tool.tool.input_schema["properties"]["method"]["enum"] == ["GET"]
    assert tool.tool.annotations is not None and tool.tool.annotations.read_only_hint is True
    assert ProxyTool(read_only=False).kind is Kind.WRITE


def test_schema_errors_name_the_field():
    assert "'path'" in refusal({"path": 5})
    assert "unknown field 'url'" in refusal({"path": "/api/contacts", "url": "x"})


@pytest.mark.parametrize(
    "header",
    [
        "X-HTTP-Method-Override",
        "x-http-method",
        "X-Method-Override",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "x-forwarded-proto",
        "Forwarded",
    ],
)
@pytest.mark.parametrize("read_only", [True, False])
def test_method_override_and_routing_headers_are_refused_in_every_mode(header: str, read_only: bool):
    message = refusal({"path": "/api/contacts", "headers": {header: "DELETE"}}, read_only=read_only)
    assert f"'headers.{header}'" in message and "method-override and routing headers are refused" in message
    assert "set 'method' and 'path' instead" in message


@pytest.mark.parametrize(
    "arguments",
    [
        {"path": "/api/contacts?_method=DELETE"},
        {"path": "/api/contacts?%5Fmethod=DELETE"},
        {"path": "/api/contacts?_METHOD=DELETE"},
        {"path": "/api/contacts?.method=DELETE"},
        {"path": "/api/contacts?_method[]=DELETE"},
        {"path": "/api/contacts", "query": {"_method": "DELETE"}},
        {"path": "/api/contacts", "query": {" _method": "PATCH"}},
        {"path": "/api/contacts", "query": {"_method[x]": "PATCH"}},
    ],
)
@pytest.mark.parametrize("read_only", [True, False])
def test_method_override_in_the_query_is_refused_wherever_it_is(arguments: dict[str, Any], read_only: bool):
    message = refusal(arguments, read_only=read_only)
    assert "Mautic would read it as the request's method" in message


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/contacts?=x", "the query key"),
        ("/api/contacts?a%3Db=x", "the query key"),
        ("/api/contacts?a%26_method=x", "the query key"),
        ("/api/contacts?a%23b=x", "the query key"),
        ("/api/contacts?a%0Ab=x", "the query key"),
        ("/api/contacts?search=a%00b", "control characters in the query"),
    ],
)
def test_the_query_inside_path_follows_the_same_rules_as_query(path: str, says: str):
    assert says in refusal({"path": path})


def test_a_plain_method_and_harmless_keys_still_pass():
    call = parse({"path": "/api/contacts?method=x&search=a%26b", "query": {"my_method": 1}}, read_only=True)
    assert call.query == (("method", "x"), ("search", "a&b"), ("my_method", "1"))
