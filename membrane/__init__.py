"""The Membrane CLI as a typed async client: run it, read its answers, say what its failures mean.

Nothing here knows about MCP; the tools and the server are built on top of it.
"""
