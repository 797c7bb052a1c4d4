"""Turning Membrane actions into MCP tools, and the generic `proxy_request` tool."""
