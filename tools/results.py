"""The results a tool call returns: its text, or an error the model can act on."""

from __future__ import annotations

from mcp.types import CallToolResult, TextContent


def text_result(text: str) -> CallToolResult:
    """A result as one text block: the JSON is sent once, not again as structured content."""
    return CallToolResult(content=[TextContent(type="text", text=text)])


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def not_connected(tool: str, error: Exception) -> CallToolResult:
    """Nothing was sent: there is no usable connection, and the error says how to get one."""
    return error_result(f"{tool} could not run: {error}")


def invalid_arguments(tool: str, problems: str) -> CallToolResult:
    return error_result(
        f"Invalid arguments for {tool}: {problems}. Nothing was sent to Mautic; fix the arguments and call again."
    )
