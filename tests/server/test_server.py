"""The server in process, on the real sandbox CLI: tools, calls, errors, states, read-only mode."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from mcp import Client
from mcp.server.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError

from mautic_mcp.membrane.client import MembraneError
from mautic_mcp.server.server import build_server
from mautic_mcp.tools.registry import build_registry
from tests.support import Sandbox, action_tools, sandbox_app

NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def text(result: Any) -> str:
    return result.content[0].text


async def test_tools_are_portable_and_annotated(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        tools = (await client.list_tools()).tools
    names = [tool.name for tool in tools]
    assert len(names) == len(set(names)) and all(NAME_RULE.match(n) for n in names)
    assert "proxy_request" in names and "list_contacts" in names and "delete_contact" in names
    for tool in tools:
        assert tool.input_schema["type"] == "object"
        assert "$ref" not in json.dumps(tool.input_schema)
        Draft202012Validator.check_schema(tool.input_schema)
        Draft7Validator.check_schema(tool.input_schema)
        assert tool.description and len(tool.description) <= 1024
    by_name = {tool.name: tool for tool in tools}
    hints = {
        name: (a.read_only_hint, a.destructive_hint, a.idempotent_hint)
        for name, tool in by_name.items()
        if (a := tool.annotations) is not None
    }
    assert hints["list_contacts"] == hints["get_contact"] == (True, None, None), "a read says only that"
    assert hints["create_contact"] == hints["add_contact_to_segment"] == (False, False, False)
    assert hints["update_contact"] == hints["change_contact_stage"] == (False, True, True)
    assert hints["delete_contact"] == hints["remove_contact_from_segment"] == (False, True, True)
    assert hints["send_email_to_contact"] == (False, False, False)
    assert hints["proxy_request"] == (False, True, False)
    assert "cannot be undone" in by_name["delete_contact"].description.lower()
    assert "cannot be undone" not in by_name["remove_contact_from_segment"].description.lower()
    for tool in tools:
        assert tool.annotations is not None and tool.annotations.title is None, "the title is said once"
        assert tool.title is None or not (tool.description or "").startswith(tool.title), tool.name
    assert "isSensitive" not in json.dumps([t.input_schema for t in tools])


async def test_actions_are_deduplicated_across_intents(sandbox: Sandbox):
    app = sandbox_app(intents=["contacts", "contact", "list contacts"])
    async with Client(build_server(app)) as client:
        listed = await client.list_tools()
        ids = [tool.action_id for tool in action_tools(app).values()]
    assert len(listed.tools) == len(ids) + 1
    assert ids and len(ids) == len(set(ids))


async def test_list_get_create_and_proxy_agree(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        listed = await client.call_tool("list_contacts", {"limit": 3})
        records = payload(listed)["records"]
        assert len(records) == 3 and listed.structured_content is None
        one = payload(await client.call_tool("get_contact", {"id": records[0]["id"]}))
        assert one["id"] == records[0]["id"]

        created = payload(await client.call_tool("create_contact", {"email": "ada@example.org", "firstname": "Ada"}))
        proxied = payload(
            await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"search": "ada@example.org"}})
        )
        assert str(created["id"]) in proxied["contacts"]
        assert int(proxied["total"]) == 1


async def test_bad_arguments_start_no_process(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        await client.list_tools()
        before = len(sandbox.commands())
        result = await client.call_tool("get_contact", {"id": "seven", "colour": "red"})
        assert result.is_error
        assert "'id': expected integer, got string" in text(result)
        assert "unknown field 'colour'; accepted fields: id" in text(result)
        missing = await client.call_tool("create_contact", {})
        assert missing.is_error and "'email': required field is missing" in text(missing)
        assert len(sandbox.commands()) == before
        assert not (await client.call_tool("get_contact", {"id": 1})).is_error


async def test_unknown_tool_is_a_protocol_error(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("drop-database", {})
        with pytest.raises(MCPError) as misnamed:
            await client.call_tool("list-contacts", {})
        with pytest.raises(MCPError) as misspelt:
            await client.call_tool("list_contact", {})
    assert raised.value.error.code == misnamed.value.error.code == -32602
    assert "drop-database" in raised.value.error.message
    assert misnamed.value.error.message == "Unknown tool: 'list-contacts'; did you mean list_contacts?"
    assert "did you mean list_contacts" in misspelt.value.error.message


async def test_mautic_errors_say_what_to_do(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        missing = await client.call_tool("get_contact", {"id": 999999})
        assert missing.is_error and "get_contact failed" in text(missing)
        assert "not found" in text(missing).lower()
        proxied = await client.call_tool("proxy_request", {"path": "/api/contacts/999999"})
        assert proxied.is_error and "404" in text(proxied) and "Item was not found" in text(proxied)
        invalid = await client.call_tool(
            "proxy_request", {"method": "POST", "path": "/api/contacts/new", "body": {"email": "not-an-email"}}
        )
        assert invalid.is_error and "email" in text(invalid)


async def test_proxy_request_refuses_unsafe_paths_before_any_process(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        await client.list_tools()
        before = len(sandbox.commands())
        for bad in [
            "https://evil.example/api/contacts",
            "//evil.example/api",
            "/api/../oauth/v2/token",
            "/api/%2e%2e/x",
            "/api\\contacts",
            "/api/contacts\r\nX-Evil: 1",
            "contacts",
        ]:
            result = await client.call_tool("proxy_request", {"path": bad})
            assert result.is_error, bad
            assert "'path'" in text(result) and "Nothing was sent" in text(result)
        for header in ["Authorization", "cookie", "Host"]:
            result = await client.call_tool("proxy_request", {"path": "/api/contacts", "headers": {header: "x"}})
            assert result.is_error and "cannot be overridden" in text(result)
        result = await client.call_tool("proxy_request", {"path": "/api/contacts", "headers": {"X-A": "1\r\nB: 2"}})
        assert result.is_error
        assert len(sandbox.commands()) == before


async def test_read_only_mode_is_enforced(sandbox: Sandbox):
    app = sandbox_app(read_only=True)
    async with Client(build_server(app)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "list_contacts" in names and "proxy_request" in names
        assert not names & {"create_contact", "update_contact", "delete_contact", "delete_company"}
        for name, called in [("create_contact", "create_contact"), ("delete_contact", "delete-contact")]:
            with pytest.raises(MCPError) as raised:
                await client.call_tool(called, {"email": "x@example.org", "id": 1})
            assert raised.value.error.message == (
                f"{name} is a write tool and this server runs in read-only mode "
                "(--read-only / MAUTIC_MCP_READ_ONLY); it only reads."
            )
        post = await client.call_tool("proxy_request", {"method": "POST", "path": "/api/contacts/new", "body": {}})
        assert post.is_error and "read-only" in text(post)
        assert not (await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})).is_error
    assert all(t.kind.value == "read" for t in action_tools(app).values())


async def test_read_only_mode_hides_write_tools_by_their_read_write_names(sandbox: Sandbox):
    app = sandbox_app()
    await app.start()
    actions = app.discovery.actions
    read_write, read_only = build_registry(actions, read_only=False), build_registry(actions, read_only=True)
    writes = {tool.name for tool in read_write if tool.kind.value != "read"} - {"proxy_request"}
    assert read_only.hidden == writes
    assert read_only.names() == [name for name in read_write.names() if name not in writes]
    assert "delete_contact" in read_only.hidden and not read_write.hidden


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("logged_out", "membrane login --tenant"),
        ("no_connection", "membrane connect --connectorId="),
        ("needs_reconnect", "membrane connect --connectionId="),
        ("defunct", "membrane connect --connectionId="),
    ],
)
async def test_setup_problems_leave_proxy_request_with_the_fix(sandbox: Sandbox, state: str, expected: str):
    sandbox.set(state=state)
    app = sandbox_app()
    app.reconnect_interval = 0
    async with Client(build_server(app)) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == ["proxy_request"]
        result = await client.call_tool("proxy_request", {"path": "/api/contacts"})
        assert result.is_error and expected in text(result)
        sandbox.clear()
        fixed = await client.call_tool("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})
        assert not fixed.is_error, text(fixed)
        assert "list_contacts" in {tool.name for tool in (await client.list_tools()).tools}


async def test_one_failing_intent_loses_only_itself(sandbox: Sandbox):
    app = sandbox_app(intents=["contacts", "campaigns", "segments"])
    real = app.membrane.list_actions

    async def flaky(connection_id: str, intent: str, limit: int) -> list[dict[str, Any]]:
        if intent == "campaigns":
            raise MembraneError("failed", "boom")
        return await real(connection_id, intent, limit)

    app.membrane.list_actions = flaky  # type: ignore[method-assign]
    async with Client(build_server(app)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"list_contacts", "list_segments", "proxy_request"} <= names
    assert set(app.discovery.failures) == {"campaigns"}


async def test_configured_connection_is_used(sandbox: Sandbox):
    connection_id = sandbox.cli("connection", "list", "--json")["items"][0]["id"]
    app = sandbox_app(connection_id=connection_id)
    async with Client(build_server(app)) as client:
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error
    assert app.connection_id == connection_id
    assert any(f"--connectionId={connection_id}" in argv for argv in map(" ".join, sandbox.commands()))


async def test_tools_list_pages(sandbox: Sandbox):
    async with Client(build_server(sandbox_app(page_size=4))) as client:
        first = await client.list_tools()
        assert len(first.tools) == 4 and first.next_cursor
        seen = list(first.tools)
        cursor = first.next_cursor
        while cursor:
            page = await client.list_tools(cursor=cursor)
            seen += page.tools
            cursor = page.next_cursor
        with pytest.raises(MCPError):
            await client.list_tools(cursor="nonsense")
    assert len({t.name for t in seen}) == len(seen) and seen[-1].name == "proxy_request"


async def test_invalid_calls_start_no_process_even_without_a_connection(sandbox: Sandbox):
    sandbox.set(state="logged_out")
    app = sandbox_app()
    app.reconnect_interval = 0
    async with Client(build_server(app)) as client:
        await client.list_tools()
        before = len(sandbox.commands())
        result = await client.call_tool("proxy_request", {"path": "/api/contacts", "colour": "red"})
        assert result.is_error and "unknown field 'colour'" in text(result)
        assert len(sandbox.commands()) == before
        unresolved = await client.call_tool("proxy_request", {"path": "/api/contacts"})
        assert "could not run" in text(unresolved) and "unknown whether" not in text(unresolved)


async def test_a_refused_write_says_it_was_not_made(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        await client.list_tools()
        sandbox.set(fault="rate_limited", fault_on="action run,request")
        for name, arguments in [
            ("create_contact", {"email": "x@example.org"}),
            ("proxy_request", {"method": "POST", "path": "/api/contacts/new", "body": {"email": "x@example.org"}}),
        ]:
            result = await client.call_tool(name, arguments)
            assert result.is_error and "The change was not made." in text(result)
            assert ".." not in text(result)


async def test_a_discovery_that_failed_entirely_is_tried_again(sandbox: Sandbox):
    sandbox.set(fault="crash", fault_on="action list")
    app = sandbox_app()
    app.reconnect_interval = 0
    async with Client(build_server(app)) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == ["proxy_request"]
        sandbox.clear()
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "list_contacts" in names
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error


async def test_a_changed_tool_list_is_published_once(sandbox: Sandbox):
    """ToolsListChanged goes out when the listing differs, not whenever the registry is rebuilt."""
    sandbox.set(state="logged_out")
    app = sandbox_app()
    app.reconnect_interval = 0
    events: list[object] = []
    app.events.subscribe(events.append)
    await app.start()
    await app.retry_setup()
    assert events == [] and app.revision == 0
    sandbox.clear()
    await app.retry_setup()
    assert events == [ToolsListChanged()] and app.revision == 1
    await app.start()
    assert events == [ToolsListChanged()] and app.revision == 1


async def test_server_discover_advertises_tool_list_changes(sandbox: Sandbox):
    async with Client(build_server(sandbox_app())) as client:
        assert client.protocol_version == "2026-07-28"
        tools = client.server_capabilities.tools
        assert tools is not None and tools.list_changed is True


async def test_an_intent_that_finds_nothing_is_logged(sandbox: Sandbox, caplog: pytest.LogCaptureFixture):
    app = sandbox_app(intents=["contacts", "zzzz-nothing"])
    with caplog.at_level(logging.WARNING, logger="mautic_mcp.server.setup"):
        await app.start()
    assert app.discovery.counts == {"contacts": 20, "zzzz-nothing": 0}
    [record] = [r for r in caplog.records if "zzzz-nothing" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "intent 'zzzz-nothing' found no actions" in record.getMessage()
    assert "--intent / MAUTIC_MCP_INTENTS" in record.getMessage()


async def test_an_unexpected_failure_is_a_result_and_the_server_goes_on(sandbox: Sandbox):
    app = sandbox_app()
    real = app.membrane.run_action

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    app.membrane.run_action = broken  # type: ignore[method-assign]
    async with Client(build_server(app)) as client:
        failed = await client.call_tool("list_contacts", {"limit": 1})
        assert failed.is_error and "list_contacts failed with an internal error" in text(failed)
        app.membrane.run_action = real  # type: ignore[method-assign]
        assert not (await client.call_tool("list_contacts", {"limit": 1})).is_error
