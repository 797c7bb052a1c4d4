import sys

from mautic_mcp.server.cli import main

sys.exit(main())
