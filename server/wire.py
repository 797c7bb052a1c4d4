"""What leaves the server can be written: text UTF-8 cannot encode never reaches a writer.

The SDK's stdio writer serializes each outgoing message itself, in a task of its own; a message it
cannot serialize (a lone surrogate that came in through a JSON `\\udc80` escape in the CLI's output,
anything pydantic cannot write) raises there and takes the whole server down. So a tool result is
repaired where it is made (`safe_result`), and every outgoing message is checked once more on its way
out (`wire_line` for the server's own stdio writer, which serializes each message once; `WireSafeStream`
in front of any other): repaired when it can be, else answered with an error for that request alone.
"""

from __future__ import annotations

import dataclasses
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from mcp_types import (
    INTERNAL_ERROR,
    CallToolResult,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCResponse,
    TextContent,
)

from mautic_mcp.membrane.output import repair_text
from mautic_mcp.server.logs import shown
from mautic_mcp.tools.results import error_result

if TYPE_CHECKING:  # the SDK's transport stack is not needed to check what can be written
    from mcp.shared._stream_protocols import WriteStream
    from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)

UNSENDABLE: Final = (
    "The answer to this request could not be encoded as JSON and was not sent; the server is still running. "
    "Try the request again, or ask for less (a narrower search, one item by id)."
)


def repair_value(value: Any) -> Any:
    """A JSON-like value with every string, keys too, repaired."""
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, dict):
        return {repair_value(key): repair_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [repair_value(item) for item in value]
    return value


def encodable(model: Any) -> bool:
    """Whether pydantic can write `model` as JSON, as the SDK's writer will."""
    try:
        model.model_dump_json(by_alias=True, exclude_unset=True)
    except Exception:
        return False
    return True


def safe_result(result: CallToolResult, tool: str) -> CallToolResult:
    """`result` as it can be sent: unencodable text replaced by U+FFFD, or an error result when even that fails."""
    repaired = False
    only_text = result.structured_content is None and result.meta is None
    content: list[Any] = []
    for block in result.content:
        if isinstance(block, TextContent) and block.meta is None and block.annotations is None:
            text = repair_text(block.text)
            if text is not block.text:
                block = block.model_copy(update={"text": text})
                repaired = True
        else:
            only_text = False
        content.append(block)
    if repaired:
        log.warning("%s: the answer held text UTF-8 cannot encode; it was replaced with U+FFFD", shown(tool))
        result = result.model_copy(update={"content": content})
    if only_text or encodable(result):  # repaired text alone is always encodable: no trial serialization
        return result
    log.error("%s: the answer could not be encoded as JSON; an error was sent instead", shown(tool))
    return error_result(f"{shown(tool)}: {UNSENDABLE}")


def wire_safe(item: SessionMessage) -> SessionMessage | None:
    """`item` as the writer can write it: as is, repaired, an error for its request, or None (drop it)."""
    message = item.message
    if encodable(message):
        return item
    kind = type(message).__name__
    try:
        repaired = type(message).model_validate(repair_value(message.model_dump(by_alias=True, exclude_unset=True)))
    except Exception:
        repaired = None
    if repaired is not None and encodable(repaired):
        log.warning("an outgoing %s held text UTF-8 cannot encode; it was replaced with U+FFFD", kind)
        return dataclasses.replace(item, message=repaired)
    if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
        log.error("the answer to request %s could not be encoded as JSON; an error was sent instead", shown(message.id))
        error = JSONRPCError(jsonrpc="2.0", id=message.id, error=ErrorData(code=INTERNAL_ERROR, message=UNSENDABLE))
        return dataclasses.replace(item, message=error)
    log.error("an outgoing %s could not be encoded as JSON and was dropped", kind)
    return None


def _line(message: JSONRPCMessage) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"


def wire_line(item: SessionMessage) -> bytes | None:
    """`item` as one line of UTF-8 JSON, serialized once (see `wire_safe` for what is sent when it cannot be)."""
    try:
        return _line(item.message)
    except Exception:
        safe = wire_safe(item)
    return None if safe is None else _line(safe.message)


class WireSafeStream:
    """A write stream that passes on only what can be written (see `wire_safe`)."""

    def __init__(self, inner: WriteStream[SessionMessage]) -> None:
        self._inner = inner

    async def send(self, item: SessionMessage, /) -> None:
        safe = wire_safe(item)
        if safe is not None:
            await self._inner.send(safe)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> WireSafeStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None
