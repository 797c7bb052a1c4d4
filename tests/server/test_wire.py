"""What leaves the server can be written, and what it logs stays on its line.

The SDK's stdio writer serializes each message in a task of its own: one it cannot write (a lone
surrogate from a CLI's `\\udc80` escape) would end the server. Results are repaired where they are
made, and every outgoing message is checked on its way out.
"""

from __future__ import annotations

import io
import logging

import anyio
from mcp.shared.message import SessionMessage
from mcp.types import (
    INTERNAL_ERROR,
    CallToolResult,
    ImageContent,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCResponse,
    TextContent,
)

from mautic_mcp.server.logs import OneLineFormatter, one_line, shown
from mautic_mcp.server.wire import WireSafeStream, repair_text, safe_result, wire_safe

LONE = "\udc80"
FORGED = "ok\r\n2026-01-01 00:00:00,000 INFO mautic_mcp.server.server: FORGED\u2028\u2029\x85\x0b\x0c\x1c\x1b[2K"


def test_repair_text_replaces_what_utf8_cannot_encode():
    assert repair_text("plain ünïcode 😀") == "plain ünïcode 😀"
    assert repair_text(f"a{LONE}b") == "a\ufffdb"
    assert repair_text("\ud83d") == "\ufffd"
    assert repair_text("\ud83d\ude00") == "😀", "a pair split into two code points is joined"


def test_a_result_with_a_lone_surrogate_is_repaired():
    result = CallToolResult(content=[TextContent(type="text", text=f'{{"name":"cut {LONE}"}}')])
    safe = safe_result(result, "list_contacts")
    assert safe.content[0].text == '{"name":"cut \ufffd"}'  # type: ignore[union-attr]
    assert not safe.is_error
    safe.model_dump_json()
    fine = CallToolResult(content=[TextContent(type="text", text="fine")])
    assert safe_result(fine, "x") is fine


def test_a_result_that_cannot_be_written_becomes_an_error_for_that_call():
    result = CallToolResult(content=[ImageContent(type="image", data="x", mime_type=f"image/{LONE}")])
    safe = safe_result(result, "get_asset")
    assert safe.is_error and "could not be encoded as JSON" in safe.content[0].text  # type: ignore[union-attr]
    safe.model_dump_json()


def test_outgoing_messages_are_repaired_or_answered_with_an_error():
    good = SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=1, result={"a": "b"}))
    assert wire_safe(good) is good

    repaired = wire_safe(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=2, result={f"k{LONE}": [f"v{LONE}"]})))
    assert repaired is not None
    assert repaired.message.model_dump_json(by_alias=True, exclude_unset=True) == (
        '{"jsonrpc":"2.0","id":2,"result":{"k\ufffd":["v\ufffd"]}}'
    )

    unwritable = wire_safe(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=3, result={"x": object()})))
    assert unwritable is not None and isinstance(unwritable.message, JSONRPCError)
    assert unwritable.message.id == 3 and unwritable.message.error.code == INTERNAL_ERROR
    assert "server is still running" in unwritable.message.error.message

    note = SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/x", params={"x": object()}))
    assert wire_safe(note) is None


async def test_the_wire_stream_passes_on_only_what_can_be_written():
    send, receive = anyio.create_memory_object_stream[SessionMessage](10)
    async with WireSafeStream(send) as stream:
        await stream.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=1, result={"t": LONE})))
        await stream.send(SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="n", params={"x": object()})))
        await stream.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=2, result={})))
    got = [item.message async for item in receive]
    assert [getattr(message, "id", None) for message in got] == [1, 2]
    for message in got:
        message.model_dump_json()


def test_one_line_escapes_every_line_break_and_terminal_control():
    line = one_line(FORGED)
    assert line.splitlines() == [line] and "\x1b" not in line
    assert "\\r\\n2026-01-01" in line and "\\u2028\\u2029\\x85" in line
    assert one_line("tab\tand ünïcode 😀") == "tab\tand ünïcode 😀"
    assert shown("x" * 500, 20) == "x" * 20 + "… (500 characters)"


def test_the_log_formatter_keeps_each_record_on_its_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tests.one-line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("tool %s failed: %s", FORGED, FORGED)
        try:
            raise ValueError(FORGED)
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().split("\n")
    records = [line for line in lines if line and not line.startswith("    ")]
    assert records == [records[0], "ERROR tests.one-line: failed"], lines
    assert records[0].startswith("WARNING tests.one-line: tool ok\\r\\n2026-01-01")
    assert not any(mark in stream.getvalue() for mark in ("\r", "\u2028", "\u2029", "\x85", "\x1b", "\x0b"))
    assert any("Traceback" in line for line in lines)
