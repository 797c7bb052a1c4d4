"""Fixtures for the sandbox's own tests: a seeded store made once, copied per test, and a CLI runner."""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import mautic_mcp.sandbox
from mautic_mcp.sandbox.routing import handle
from mautic_mcp.sandbox.store import Store, open_store
from mautic_mcp.sandbox.workspace import CONNECTION_ID

CONN = CONNECTION_ID


@dataclass
class Run:
    """One finished CLI invocation."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error(self) -> dict[str, Any]:
        """The Membrane error object, which is always the last stderr line."""
        return json.loads(self.err.strip().splitlines()[-1])


@dataclass
class Box:
    """A private sandbox store plus the environment every invocation in a test gets."""

    db: Path
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("MEMBRANE_SANDBOX_")}
        return {**base, "MEMBRANE_SANDBOX_DB": str(self.db), **self.env, **(extra or {})}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mautic_mcp.sandbox", *args]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 30) -> Run:
        done = subprocess.run(
            self.argv(*args),
            env=self.environ(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """Runs a command that must succeed and print JSON."""
        done = self.run(*args, env=env)
        assert done.code == 0, (done.code, done.out, done.err)
        return done.json()

    def action(self, key: str, payload: dict[str, Any] | None = None) -> Any:
        """The `output` of a successful `action run`."""
        result = self.ok(
            "action", "run", key, f"--connectionId={CONN}", f"--input={json.dumps(payload or {})}", "--json"
        )
        return result["output"]

    def request(self, path: str, *options: str) -> Run:
        return self.run("request", CONN, path, *options)

    def knobs(self, **values: Any) -> Path:
        """Writes a knobs file and points every later invocation at it."""
        path = self.tmp / "knobs.json"
        path.write_text(json.dumps(values))
        self.env["MEMBRANE_SANDBOX_KNOBS"] = str(path)
        return path


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded store made once per session; bytecode is compiled first so every invocation starts fast."""
    compileall.compile_dir(os.path.dirname(mautic_mcp.sandbox.__file__), quiet=1)
    path = tmp_path_factory.mktemp("sandbox-template") / "sandbox.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBRANE_SANDBOX_")}
    subprocess.run(
        [sys.executable, "-m", "mautic_mcp.sandbox", "reset", "--json"],
        env={**env, "MEMBRANE_SANDBOX_DB": str(path)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@pytest.fixture
def box(tmp_path: Path, template_db: Path) -> Iterator[Box]:
    db = tmp_path / "sandbox.db"
    shutil.copyfile(template_db, db)
    yield Box(db=db, tmp=tmp_path)


@pytest.fixture
def db(tmp_path: Path, template_db: Path) -> Iterator[Store]:
    """A private copy of the seeded store, opened in this process, for calling the emulation directly."""
    target = tmp_path / "sandbox.db"
    shutil.copyfile(template_db, target)
    opened = open_store(str(target))
    yield opened
    opened.conn.close()


def get(db: Store, path: str, **query: Any) -> tuple[int, Any]:
    return handle(db, "GET", path, dict(query), None)


def call(db: Store, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, Any]:
    return handle(db, method, path, dict(query), body)


def ids(body: dict[str, Any], key: str = "contacts") -> list[int]:
    rows = body[key]
    return [r["id"] for r in (rows.values() if isinstance(rows, dict) else rows)]
