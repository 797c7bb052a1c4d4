"""The results a tool call returns: its text, or an error the model can act on."""

from __future__ import annotations

from mcp_types import CallToolResult, TextContent

MAX_ERROR_CHARS = 2_000
"""The most characters an error result holds: enough to name every problem a model can act on at once."""


def text_result(text: str) -> CallToolResult:
    """A result as one text block: the JSON is sent once, not again as structured content."""
    return CallToolResult(content=[TextContent(type="text", text=text)])


def error_result(message: str) -> CallToolResult:
    """An error the model reads; a longer one (5,000 unknown fields, a long quote) is cut and says how much more."""
    return CallToolResult(content=[TextContent(type="text", text=cap_error(message))], is_error=True)


def cap_error(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`message` within `limit` characters, ending with how many were left out."""
    if len(message) <= limit:
        return message
    kept = limit - len(f" … and {len(message):,} more characters")
    return message[:kept] + f" … and {len(message) - kept:,} more characters"


def not_connected(tool: str, error: Exception) -> CallToolResult:
    """Nothing was sent: there is no usable connection, and the error says how to get one."""
    return error_result(f"{tool} could not run: {error}")


def invalid_arguments(tool: str, problems: str) -> CallToolResult:
    """The problems, cut to leave room for what to do next, which is always said."""
    problems = cap_error(problems, MAX_ERROR_CHARS - 100 - len(tool[:100]))
    return error_result(
        f"Invalid arguments for {tool}: {problems}. Nothing was sent to Mautic; fix the arguments and call again."
    )
