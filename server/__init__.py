"""mautic-mcp: Mautic's actions as MCP tools, run through the Membrane CLI."""

__version__ = "0.1.0"
