"""Test support: a sandbox per test, and a server on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.config import build_settings
from server.server import MauticServer


@dataclass
class Sandbox:
    """Paths of one test's sandbox, and the knobs it reads at every CLI invocation."""

    db: Path
    knobs: Path
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "MEMBRANE_SANDBOX_DB": str(self.db),
            "MEMBRANE_SANDBOX_KNOBS": str(self.knobs),
            "MEMBRANE_SANDBOX_LOG": str(self.log),
        }

    def set(self, **knobs: Any) -> None:
        self.knobs.write_text(json.dumps(knobs))

    def clear(self) -> None:
        self.knobs.unlink(missing_ok=True)

    def invocations(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def commands(self) -> list[list[str]]:
        return [entry["argv"] for entry in self.invocations() if "end" in entry or "exit" in entry]

    def cli(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "sandbox", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def sandbox_app(**flags: Any) -> MauticServer:
    """A server on the sandbox CLI with the given settings (flags as on the command line)."""
    return MauticServer(build_settings({"sandbox": True, **flags}, env={}))
