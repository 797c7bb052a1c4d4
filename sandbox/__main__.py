"""Allows `python -m mautic_mcp.sandbox`, with the same argv as `membrane`."""

from mautic_mcp.sandbox.cli import main

raise SystemExit(main())
