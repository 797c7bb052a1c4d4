"""The paging contract: following `next` from any first call yields every record exactly once, in order.

Runs the real tools on the sandbox, at caps from 2,000 characters up and at any page
size, for action tools (cursor and offset paging) and for `proxy_request` (Mautic's
`start`/`limit`).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mautic_mcp.server.server import MauticServer
from tests.support import Sandbox, sandbox_app

EXAMPLES = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CAPS = st.integers(min_value=2_000, max_value=30_000)
LIMITS = st.integers(min_value=1, max_value=100)


def ids(body: dict[str, Any], key: str) -> list[int]:
    records = body.get(key) or []
    return [int(r["id"]) for r in (records.values() if isinstance(records, dict) else records)]


async def follow(app: MauticServer, name: str, arguments: dict[str, Any], key: str) -> list[int]:
    """Call, then call again with `next` until it is absent; every answer within the cap."""
    seen: list[int] = []
    for _ in range(400):
        result = await app.call_tool(name, arguments)
        text = result.content[0].text  # type: ignore[union-attr]
        assert not result.is_error, text
        assert len(text) <= app.settings.max_result_chars
        body = json.loads(text)
        seen += ids(body, key)
        if "next" not in body:
            return seen
        assert list(body).index("next") < list(body).index(key), "next comes before the records"
        arguments = body["next"]
    raise AssertionError("next never ended")


def expected(box: Sandbox, path: str, search: str) -> list[int]:
    body = box.cli("request", "mautic", path, f"--query=search={search}", "--query=limit=0")
    rows = body["contacts"] if "contacts" in body else body["notes"]
    return sorted(int(k) for k in rows)


def check(first_call: tuple[str, dict[str, Any], str], cap: int, want: list[int]) -> None:
    async def run() -> list[int]:
        app = sandbox_app(max_result_chars=cap)
        await app.start()
        name, arguments, key = first_call
        return await follow(app, name, arguments, key)

    seen = anyio.run(run)
    assert seen == want, f"{len(seen)} seen, {len(set(seen))} distinct, {len(want)} wanted"


@EXAMPLES
@given(cap=CAPS, limit=LIMITS)
def test_cursor_paging_shows_every_record_once(sandbox: Sandbox, cap: int, limit: int):
    """`contacts_find_by_tag` pages by cursor only: a cut page is read again smaller, never skipped."""
    want = expected(sandbox, "/api/contacts", "tag:vip")
    check(("contacts_find_by_tag", {"tag": "vip", "limit": limit}, "records"), cap, want)


@EXAMPLES
@given(cap=CAPS, limit=LIMITS)
def test_offset_paging_shows_every_record_once(sandbox: Sandbox, cap: int, limit: int):
    want = expected(sandbox, "/api/contacts", "tag:vip")
    check(("list_contacts", {"search": "tag:vip", "limit": limit, "start": 0}, "records"), cap, want)


@EXAMPLES
@given(cap=CAPS, limit=LIMITS)
def test_proxy_paging_shows_every_record_once(sandbox: Sandbox, cap: int, limit: int):
    want = expected(sandbox, "/api/contacts", "tag:vip")
    path = f"/api/contacts?search=tag:vip&limit={limit}"
    check(("proxy_request", {"path": path}, "contacts"), cap, want)


def test_a_whole_last_page_has_no_next(sandbox: Sandbox):
    async def run() -> dict[str, Any]:
        app = sandbox_app()
        await app.start()
        result = await app.call_tool("list_notes", {"limit": 100})
        return json.loads(result.content[0].text)  # type: ignore[union-attr]

    body = anyio.run(run)
    assert "next" not in body and len(body["records"]) == body["total"] == 50
