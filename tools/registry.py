"""The one registry of this server's tools: every discovered action, then `proxy_request`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mcp.types import Tool

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.tools.actions import build_action_tools
from mautic_mcp.tools.proxy import NAME as PROXY_NAME
from mautic_mcp.tools.proxy import ProxyTool
from mautic_mcp.tools.tool import ServerTool


class ToolRegistry:
    """Tools by name, in the order `tools/list` shows them."""

    def __init__(self, tools: Sequence[ServerTool[Any]]) -> None:
        self._tools: dict[str, ServerTool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    def __iter__(self) -> Iterator[ServerTool[Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> ServerTool[Any] | None:
        return self._tools.get(name)

    def listing(self) -> list[Tool]:
        return [tool.tool for tool in self._tools.values()]


def build_registry(actions: Sequence[Action], *, read_only: bool) -> ToolRegistry:
    """A tool per action (read actions only in read-only mode), and `proxy_request` last."""
    action_tools = build_action_tools(actions, read_only=read_only, reserved=frozenset({PROXY_NAME}))
    return ToolRegistry([*action_tools, ProxyTool(read_only=read_only)])
