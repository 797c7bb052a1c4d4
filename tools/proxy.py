"""`proxy_request`: any Mautic REST call through `membrane request`, kept inside the Mautic API.

Membrane prepends the Mautic base URL and injects the credentials, so the only
way out of the API is a path, query or header that smuggles a host, climbs out
of `/api`, or overrides the auth. All of that is refused before a process starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from mcp_types import Tool

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import MembraneError
from mautic_mcp.tools.shaping import compact, fit_list, fit_value, off_loop_if_large, render_list, split_list
from mautic_mcp.tools.tool import InvalidArguments, Kind, Reread, hints_for
from mautic_mcp.tools.validation import ArgumentsValidator

NAME = "proxy_request"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
FORBIDDEN_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host", "content-length", "transfer-encoding", "connection"}
)
OVERRIDE_HEADERS = frozenset(
    {"x-http-method-override", "x-http-method", "x-method-override", "x-original-url", "x-rewrite-url", "forwarded"}
)
"""Headers that make a server run another method or route than the request says (also `X-Forwarded-*`)."""
OVERRIDE_PARAMETER = "_method"
"""The query key that Symfony (Mautic's framework) reads as the real method of a POST."""
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
API_PREFIX = "/api/"

SCALAR: list[dict[str, Any]] = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "method": {"type": "string", "enum": list(METHODS), "default": "GET", "description": "HTTP method"},
        "path": {
            "type": "string",
            "minLength": 5,
            "maxLength": 2048,
            "description": "Path under /api/, e.g. /api/contacts/5",
        },
        "query": {
            "type": "object",
            "additionalProperties": {"anyOf": [*SCALAR, {"type": "array", "items": {"anyOf": SCALAR}}]},
            "description": 'e.g. {"search": "email:jim@example.com", "limit": 10}',
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Extra headers; Membrane adds the authentication",
        },
        "body": {
            "anyOf": [
                {"type": "object", "additionalProperties": True},
                {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                {"type": "string"},
            ],
            "description": "A JSON object (an array for batch routes), or a string sent as is",
        },
    },
    "required": ["path"],
    "additionalProperties": False,
}
DESCRIPTION = (
    "Any Mautic REST API v1 call, for what no other tool covers. Entities: contacts, companies, segments, "
    "campaigns, emails, forms, stages, notes, assets. List: GET /api/<entity>, query search ('email:x@y.com', "
    "'segment:alias', 'tag:vip', 'ids:1,2'), limit, orderBy, orderByDir; rows come keyed by id; call again with "
    "`next` for more. One: GET /api/<entity>/<id>. Create: POST /api/<entity>/new. Edit: PATCH "
    "/api/<entity>/<id>/edit. Delete: DELETE /api/<entity>/<id>/delete. Batch (up to 200): POST "
    "/api/contacts/batch/new, PATCH /api/contacts/batch/edit. Contact fields are flat aliases (firstname, email)."
)
_VALIDATOR = ArgumentsValidator(INPUT_SCHEMA)


@dataclass(frozen=True)
class ProxyCall:
    """A checked request, ready for `membrane request`."""

    method: Method
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: str | None
    json_body: bool

    def first(self, key: str) -> str | None:
        return next((value for name, value in self.query if name == key), None)

    def arguments(self, *, start: int) -> dict[str, Any]:
        """The arguments of this same GET from `start` on, with the query (path's included) as one object."""
        query: dict[str, Any] = {}
        for name, value in self.query:
            if name in query:
                query[name] = [*query[name], value] if isinstance(query[name], list) else [query[name], value]
            else:
                query[name] = value
        query["start"] = start
        arguments: dict[str, Any] = {"method": "GET", "path": self.path, "query": query}
        if self.headers:
            arguments["headers"] = dict(self.headers)
        return arguments


class ProxyTool:
    """`proxy_request` as a tool; read-only mode narrows it to GET in its schema and in its checks."""

    def __init__(self, *, read_only: bool) -> None:
        self.read_only = read_only
        self.tool = _tool(read_only=read_only)
        self.kind = Kind.READ if read_only else Kind.WRITE

    @property
    def name(self) -> str:
        return NAME

    async def check(self, arguments: Mapping[str, Any]) -> ProxyCall:
        return _rules(arguments, await _VALIDATOR.check(arguments), read_only=self.read_only)

    async def run(self, membrane: Membrane, connection_id: str, call: ProxyCall) -> Any:
        return await membrane.request(
            connection_id,
            call.path,
            method=call.method,
            query=call.query,
            headers=call.headers,
            body=call.body,
            json_body=call.json_body,
        )

    async def present(self, call: ProxyCall, answer: Any, max_chars: int, reread: Reread[ProxyCall]) -> str:
        """Fitted in a worker thread when large: the work grows with the answer, and the event loop keeps serving."""
        return await off_loop_if_large(answer, _fit, call, answer, max_chars)

    def failure(self, call: ProxyCall, error: MembraneError) -> str:
        text = f"{NAME} {call.method} {call.path} failed: {error.message}"
        if call.method != "GET":
            text += error.after_write("a GET")
        return text


def _fit(call: ProxyCall, answer: Any, max_chars: int) -> str:
    """A Mautic list (a GET answer with `total`) pages on by `start`; anything else is fitted as it is."""
    listing = split_list(answer, any_key=True) if call.method == "GET" and _has_total(answer) else None
    if listing is None:
        return fit_value(answer, max_chars)
    next_size = len(compact(call.arguments(start=0))) + 20
    fitted = fit_list(listing, max_chars, lambda record: _reader(call.path, record), next_size=next_size)
    start = _count(call.first("start")) + fitted.shown
    more = listing.total is not None and fitted.shown > 0 and start < listing.total
    next_arguments = call.arguments(start=start) if more else None
    return render_list(fitted, of=len(listing.rows), next_arguments=next_arguments, max_chars=max_chars)


def _tool(*, read_only: bool) -> Tool:
    schema = INPUT_SCHEMA
    description = DESCRIPTION
    if read_only:
        schema = {
            **INPUT_SCHEMA,
            "properties": {
                **INPUT_SCHEMA["properties"],
                "method": {
                    "type": "string",
                    "enum": ["GET"],
                    "default": "GET",
                    "description": "Read-only mode: GET only.",
                },
            },
        }
        description += " This server is read-only: only GET is allowed."
    return Tool(
        name=NAME,
        title="Mautic API request",
        description=description,
        input_schema=schema,
        annotations=hints_for(Kind.READ if read_only else Kind.WRITE),
    )


def parse(arguments: Any, *, read_only: bool) -> ProxyCall:
    """Check the arguments and the safety rules; raise InvalidArguments naming what is wrong."""
    return _rules(arguments, _VALIDATOR.errors(arguments), read_only=read_only)


def _rules(arguments: Any, problems: list[str], *, read_only: bool) -> ProxyCall:
    """The call, once the schema found no problem and every safety rule passes; else InvalidArguments."""
    if problems:
        raise InvalidArguments("; ".join(problems))
    method = str(arguments.get("method", "GET")).upper()
    if read_only and method != "GET":
        raise InvalidArguments(
            f"'method': this server runs in read-only mode and sends GET requests only, not {method}"
        )
    path, path_query = _split_path(arguments["path"])
    query = _checked_query(path_query, "path") + _checked_query(_query_pairs(arguments.get("query") or {}), "query")
    headers = _headers(arguments.get("headers") or {})
    body, json_body = _body(arguments.get("body"), method)
    return ProxyCall(method, path, tuple(query), tuple(headers), body, json_body)  # type: ignore[arg-type]


def _split_path(raw: str) -> tuple[str, list[tuple[str, str]]]:
    if CONTROL.search(raw):
        raise InvalidArguments("'path': control characters (including CR/LF) are not allowed")
    if "\\" in raw:
        raise InvalidArguments("'path': backslashes are not allowed")
    if "#" in raw:
        raise InvalidArguments("'path': a fragment ('#') is not allowed")
    path, _, query_text = raw.partition("?")
    lowered = path.lower()
    if "://" in path or lowered.startswith("//") or re.match(r"^[a-z][a-z0-9+.-]*:", lowered):
        raise InvalidArguments("'path': must be a path within the Mautic API such as /api/contacts, not a URL or host")
    decoded = path
    for _ in range(3):
        decoded = unquote(decoded)
    if any(segment in {"..", "."} for segment in re.split(r"[/\\]", decoded)) or CONTROL.search(decoded):
        raise InvalidArguments("'path': '.' and '..' segments (also percent-encoded) are not allowed")
    if "\\" in decoded or "//" in decoded or "?" in decoded or "#" in decoded:
        raise InvalidArguments("'path': encoded '/', '\\', '?' or '#' are not allowed")
    if not path.startswith(API_PREFIX):
        raise InvalidArguments("'path': must start with /api/, e.g. /api/contacts or /api/segments/3")
    pairs = parse_qsl(query_text, keep_blank_values=True) if query_text else []
    return path, pairs


def _query_pairs(query: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, _scalar_text(item)) for key, value in query.items() for item in _items(value)]


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _checked_query(pairs: list[tuple[str, str]], where: str) -> list[tuple[str, str]]:
    """The same rules for the query in `path` (`where` = "path") and the `query` object.

    A key must be plain (no `=`, `&`, `#`, no control characters), no value may hold a
    control character, and `_method` is refused however PHP would spell it.
    """
    for key, value in pairs:
        shown = json.dumps(key)[:80]
        if not key or CONTROL.search(key) or any(ch in key for ch in "=&#"):
            raise InvalidArguments(f"'{where}': the query key {shown} is not allowed")
        if _php_name(key) == OVERRIDE_PARAMETER:
            raise InvalidArguments(
                f"'{where}': the query key {shown} is refused: Mautic would read it as the request's method "
                "instead of 'method'; set 'method' itself"
            )
        if CONTROL.search(value):
            field = "path" if where == "path" else f"query.{key[:80]}"
            raise InvalidArguments(f"'{field}': control characters in the query (including CR/LF) are not allowed")
    return pairs


def _php_name(key: str) -> str:
    """The name PHP gives a query key: leading spaces dropped, `a[x]` is `a`, spaces, dots and a lone `[` are `_`."""
    name = key.lstrip(" ")
    if "[" in name and "]" in name.partition("[")[2]:
        name = name.partition("[")[0]
    return re.sub(r"[ .\[]", "_", name).lower()


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _headers(headers: dict[str, str]) -> list[tuple[str, str]]:
    result = []
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise InvalidArguments(f"'headers': {json.dumps(name)[:80]} is not a valid header name")
        if name.lower() in FORBIDDEN_HEADERS:
            raise InvalidArguments(f"'headers.{name}': this header is set by Membrane and cannot be overridden")
        if name.lower() in OVERRIDE_HEADERS or name.lower().startswith("x-forwarded"):
            raise InvalidArguments(
                f"'headers.{name}': method-override and routing headers are refused: they can make Mautic or a "
                "proxy in front of it run another method or path than 'method' and 'path' say (and so get round "
                "read-only mode); set 'method' and 'path' instead"
            )
        if CONTROL.search(value.replace("\t", "")):
            raise InvalidArguments(f"'headers.{name}': control characters (including CR/LF) are not allowed")
        result.append((name, value))
    return result


def _body(body: Any, method: str) -> tuple[str | None, bool]:
    if body is None:
        return None, True
    if method == "GET":
        raise InvalidArguments("'body': a GET request has no body; put parameters in 'query'")
    if isinstance(body, str):
        try:
            json.loads(body)
        except ValueError:
            return body, False
        return body, True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")), True


MAUTIC_ENTITIES = frozenset(
    {"contacts", "companies", "segments", "campaigns", "emails", "forms", "stages", "notes", "assets"}
)


def _has_total(answer: Any) -> bool:
    return isinstance(answer, dict) and "total" in answer


def _reader(path: str, record: Any) -> str | None:
    """The request that reads one listed record in full: `/api/contacts/5/notes` rows are `/api/notes/<id>`."""
    if not isinstance(record, Mapping) or record.get("id") is None:
        return None
    entity = next((part for part in reversed(path.split("/")) if part in MAUTIC_ENTITIES), None)
    if entity is None:
        return None
    record_path = f"/api/{entity}/{record['id']}"
    return f"{NAME} {compact({'path': record_path})}"


def _count(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return max(number, 0)
