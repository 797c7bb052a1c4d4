"""Allows `python -m mautic_mcp.server`, with the same argv as `mautic-mcp`."""

import sys

from mautic_mcp.server.cli import main

if __name__ == "__main__":
    sys.exit(main())
