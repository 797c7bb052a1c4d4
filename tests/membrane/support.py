"""What the membrane tests share: a CLI that prints exactly what a case gives."""

from __future__ import annotations

import sys

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.runner import Runner

SCRIPT = """
import os, sys
sys.stdout.write(os.environ["FAKE_STDOUT"])
sys.stderr.write(os.environ["FAKE_STDERR"])
sys.exit(int(os.environ["FAKE_EXIT"]))
"""


def scripted(stdout: str = "", stderr: str = "", exit_code: int = 0) -> Membrane:
    """A Membrane whose CLI writes `stdout` and `stderr` as given and exits with `exit_code`."""
    env = {"FAKE_STDOUT": stdout, "FAKE_STDERR": stderr, "FAKE_EXIT": str(exit_code), "PATH": "/usr/bin:/bin"}
    return Membrane(Runner([sys.executable, "-c", SCRIPT], timeout=20, max_concurrency=2, env=env))
