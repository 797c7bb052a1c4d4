"""The one registry of this server's tools: every discovered action, then `proxy_request`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mcp_types import Tool

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.tools.actions import build_action_tools
from mautic_mcp.tools.proxy import NAME as PROXY_NAME
from mautic_mcp.tools.proxy import ProxyTool
from mautic_mcp.tools.tool import ServerTool


class ToolRegistry:
    """Tools by name, in the order `tools/list` shows them, and the names read-only mode left out."""

    def __init__(self, tools: Sequence[ServerTool[Any]], hidden: Iterable[str] = ()) -> None:
        self._tools: dict[str, ServerTool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool
        self.hidden = frozenset(hidden)
        """Write tools that read-only mode leaves out, by the names they have in read-write mode."""

    def __iter__(self) -> Iterator[ServerTool[Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> ServerTool[Any] | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def listing(self) -> list[Tool]:
        return [tool.tool for tool in self._tools.values()]


def build_registry(actions: Sequence[Action], *, read_only: bool) -> ToolRegistry:
    """A tool per action (read actions only in read-only mode), and `proxy_request` last.

    Names are given over all the actions in both modes, so a tool is called the same
    whether or not the server is read-only, and a hidden write tool can be named when
    a client calls it.
    """
    action_tools = build_action_tools(actions, read_only=read_only, reserved=frozenset({PROXY_NAME}))
    return ToolRegistry([*action_tools, ProxyTool(read_only=read_only)], hidden=action_tools.hidden)
