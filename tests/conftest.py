"""Shared fixtures: every test talks to the real sandbox CLI over a private, seeded database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ERAS, Sandbox


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "sandbox.db"
    subprocess.run(
        [sys.executable, "-m", "mautic_mcp.sandbox", "reset"],
        env={**os.environ, "MEMBRANE_SANDBOX_DB": str(path)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@pytest.fixture(params=list(ERAS))
def era(request: pytest.FixtureRequest) -> str:
    """Runs a test once per protocol era (the version; `ERAS[era]` is the client mode that negotiates it)."""
    return str(request.param)


@pytest.fixture
def sandbox(tmp_path: Path, seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    db = tmp_path / "sandbox.db"
    shutil.copyfile(seeded_db, db)
    box = Sandbox(
        db=db,
        knobs=tmp_path / "knobs.json",
        log=tmp_path / "invocations.jsonl",
        cache=tmp_path / "cache" / "mautic-mcp",
    )
    for name in ("MEMBRANE_SANDBOX_STATE", "MEMBRANE_SANDBOX_FAULT", "MEMBRANE_SANDBOX_FAULT_ON"):
        monkeypatch.delenv(name, raising=False)
    for name, value in box.env.items():
        monkeypatch.setenv(name, value)
    yield box


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test touches the user's discovery cache, whatever starts its server: a module's fixture (before
    `private_cache`), a server built with an empty environment, a child that inherits this one's."""
    folder = tmp_path_factory.mktemp("session-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(folder))
    patch.setenv("MAUTIC_MCP_CACHE_DIR", str(folder / "mautic-mcp"))
    yield folder / "mautic-mcp"
    patch.undo()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's discovery cache in its own folder: no test starts warm from another's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    monkeypatch.setenv("MAUTIC_MCP_CACHE_DIR", str(folder / "mautic-mcp"))
    return folder / "mautic-mcp"
