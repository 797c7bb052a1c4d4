"""The discovery cache: a warm start answers `tools/list` before any CLI process starts, then re-checks.

On the real sandbox CLI, in process: warm start and its background refresh, a changed catalog after a
restart (cache updated, clients told, a removed tool named), damaged cache files, the no-cache setting,
keys that change with the settings, a gone connection re-resolved once, and concurrent writers in
separate processes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mautic_mcp.membrane.cache import (
    MAX_ENTRIES,
    VERSION,
    DiscoveryCache,
    Entry,
    account_marker,
    action_to_json,
    cache_key,
    encode,
)
from mautic_mcp.membrane.catalog import Action
from mautic_mcp.server.config import ConfigError, build_settings
from mautic_mcp.server.server import MauticServer, build_server
from tests.support import Sandbox, sandbox_app, text

INTENTS = ["contacts", "segments"]
SANDBOX_CONNECTION = "66a1f0c2b7e4d5a6c3b2a100"


def cached_app(folder: Path, **flags: Any) -> MauticServer:
    app = sandbox_app(cache_dir=str(folder), intents=flags.pop("intents", INTENTS), **flags)
    app.retry_first = app.reconnect_interval = 0.2
    return app


async def fill(folder: Path, **flags: Any) -> MauticServer:
    """A cold start that writes the cache."""
    app = cached_app(folder, **flags)
    await app.start()
    assert app.connection_id == SANDBOX_CONNECTION
    return app


def entry_file(app: MauticServer) -> Path:
    assert app.cache is not None
    return app.cache.path(app.cache_key())


def cli_starts(sandbox: Sandbox) -> list[float]:
    return [float(entry["start"]) for entry in sandbox.invocations()]


async def test_warm_start_answers_before_any_cli_process_then_refreshes(sandbox: Sandbox, tmp_path: Path):
    cold = await fill(tmp_path)
    assert entry_file(cold).is_file()
    sandbox.log.unlink()

    app = cached_app(tmp_path)
    async with Client(build_server(app)) as client:
        started = time.monotonic()
        listed = [tool.name for tool in (await client.list_tools()).tools]
        answered_at = time.time()
        elapsed = time.monotonic() - started
        assert listed == [tool.name for tool in cold.tools()]
        assert elapsed < 1.0
        assert [at for at in cli_starts(sandbox) if at <= answered_at] == [], "no CLI process before the answer"
        with anyio.fail_after(15):
            while app.from_cache or app.check is not None:
                await anyio.sleep(0.02)
    commands = [argv[:2] for argv in sandbox.commands()]
    assert commands.count(["connection", "list"]) == 1
    assert commands.count(["action", "list"]) == len(INTENTS)
    assert app.revision == 1, "the same catalog: no change announced"


async def test_a_changed_catalog_after_restart_updates_the_cache_and_notifies(sandbox: Sandbox, tmp_path: Path):
    cold = await fill(tmp_path)
    path = entry_file(cold)
    document = json.loads(path.read_text())
    stale = {"id": "stale-action-id", "key": "list-foo", "name": "List foo", "description": "Gone.", "type": ""}
    document["pages"]["contacts"].insert(0, {**stale, "inputSchema": {"type": "object"}, "outputSchema": None})
    path.write_text(json.dumps(document))

    app = cached_app(tmp_path)
    events: list[object] = []
    changed = anyio.Event()
    app.events.subscribe(lambda event: (events.append(event), changed.set() if len(events) > 1 else None))
    async with Client(build_server(app)) as client:
        first = [tool.name for tool in (await client.list_tools()).tools]
        assert "list_foo" in first
        with anyio.fail_after(15):
            await changed.wait()
        after = [tool.name for tool in (await client.list_tools()).tools]
        assert "list_foo" not in after and after == [tool.name for tool in cold.tools()]
        result = await client.call_tool("list_foo", {})
        assert result.is_error
        assert "list_foo is no longer offered by Membrane" in text(result) and "tools/list" in text(result)
    assert "stale-action-id" not in path.read_text(), "the cache was rewritten with the new catalog"
    assert DiscoveryCache(tmp_path).load(app.cache_key()) is not None


@pytest.mark.parametrize(
    "damage",
    ["truncated", "garbage", "empty", "wrong_version", "other_key", "bad_action", "not_utf8", "directory"],
)
async def test_a_damaged_cache_is_ignored_and_rebuilt(
    sandbox: Sandbox, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
):
    cold = await fill(tmp_path)
    path = entry_file(cold)
    raw = path.read_bytes()
    document = json.loads(raw)
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(300))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "wrong_version":
        path.write_text(json.dumps({**document, "version": VERSION + 1}))
    elif damage == "other_key":
        path.write_text(json.dumps({**document, "key": "0" * 32}))
    elif damage == "bad_action":
        document["pages"]["contacts"][0]["id"] = ""
        path.write_text(json.dumps(document))
    elif damage == "not_utf8":
        path.write_bytes(b"\xff\xfe" + raw)
    else:
        path.unlink()
        path.mkdir()

    app = cached_app(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mautic_mcp.membrane.cache"):
        async with app.running():
            assert not app.from_cache
            with anyio.fail_after(15):
                while app.check is not None or app.connection_id is None:
                    await anyio.sleep(0.02)
    assert [tool.name for tool in app.tools()] == [tool.name for tool in cold.tools()]
    assert any(record.levelno == logging.WARNING for record in caplog.records), caplog.text
    if damage != "directory":
        assert DiscoveryCache(tmp_path).load(app.cache_key()) is not None, "rebuilt"


async def test_an_unreadable_cache_folder_is_a_warning(sandbox: Sandbox, tmp_path: Path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    cold = await fill(tmp_path)
    entry_file(cold).chmod(0)
    app = cached_app(tmp_path)
    async with app.running():
        assert not app.from_cache
    tmp_path.chmod(0o500)
    try:
        assert not DiscoveryCache(tmp_path / "sub").save("k", Entry("c", {}))
    finally:
        tmp_path.chmod(0o700)


async def test_no_cache_reads_and_writes_nothing(sandbox: Sandbox, tmp_path: Path):
    folder = tmp_path / "cache-folder"
    app = cached_app(folder, no_cache=True)
    assert app.cache is None
    await app.start()
    assert not folder.exists()
    settings = build_settings({}, env={"MAUTIC_MCP_NO_CACHE": "1", "MAUTIC_MCP_CACHE_DIR": str(tmp_path)})
    assert settings.no_cache and settings.cache_folder() is None
    with pytest.raises(ConfigError, match="MAUTIC_MCP_NO_CACHE"):
        build_settings({}, env={"MAUTIC_MCP_NO_CACHE": "maybe"})
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ConfigError, match="--cache-dir / MAUTIC_MCP_CACHE_DIR"):
        build_settings({"cache_dir": str(a_file)}, env={})
    default = build_settings({}, env={}).cache_folder()
    assert default is not None and default.name == "mautic-mcp"


async def test_the_key_follows_everything_that_changes_discovery(sandbox: Sandbox, tmp_path: Path):
    base = cached_app(tmp_path).cache_key()
    others = {
        cached_app(tmp_path, intents=["contacts"]).cache_key(),
        cached_app(tmp_path, limit=5).cache_key(),
        cached_app(tmp_path, read_only=True).cache_key(),
        cached_app(tmp_path, connection_id="other").cache_key(),
        cache_key(["/some/other/membrane"], None, INTENTS, 20, False),
    }
    assert base not in others and len(others) == 5
    await fill(tmp_path)
    app = cached_app(tmp_path, intents=["contacts"])
    async with app.running():
        assert not app.from_cache, "different intents: a different entry"
    assert len(list(tmp_path.glob("discovery-*.json"))) == 1


async def test_a_gone_connection_is_resolved_again_once(sandbox: Sandbox, tmp_path: Path):
    cold = await fill(tmp_path)
    path = entry_file(cold)
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "connection_id": "gone-connection"}))
    sandbox.log.unlink()

    app = cached_app(tmp_path)
    app.warm_refresh = 60.0  # no background re-check: the call finds the connection gone
    async with app.running():
        assert app.from_cache and app.connection_id == "gone-connection"
        write = await app.call_tool("create_contact", {"email": "cache@example.com"})
        assert write.is_error
        said = text(write)
        assert "gone-connection" in said and SANDBOX_CONNECTION in said and "not sent again" in said
        assert app.connection_id == SANDBOX_CONNECTION
        runs = [argv for argv in sandbox.commands() if argv[:2] == ["action", "run"]]
        assert len(runs) == 1, "a write is never sent twice"
        assert json.loads(path.read_text())["connection_id"] == SANDBOX_CONNECTION, "the cache follows"

        path.write_text(json.dumps({**document, "connection_id": "gone-connection"}))
        app.connection_id = "gone-connection"
        read = await app.call_tool("list_contacts", {"limit": 1})
        assert not read.is_error, text(read)
    commands = [argv[:2] for argv in sandbox.commands()]
    assert commands.count(["connection", "list"]) == 2, "one re-resolve per gone connection"
    assert commands.count(["action", "run"]) == 3, "the write once, the read twice"


def _write_many(folder: str, key: str, marker: int, times: int) -> None:
    cache = DiscoveryCache(Path(folder))
    action = Action(f"id-{marker}", "k", "n", "d" * 1500, "", {"type": "object"}, None)
    for _ in range(times):
        assert cache.save(key, Entry(f"connection-{marker}", {"contacts": [action] * 20}))


def test_concurrent_writers_never_leave_a_damaged_file(tmp_path: Path):
    key = "k" * 32
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(str(tmp_path), key, n, 200)) for n in range(2)]
    for writer in writers:
        writer.start()
    cache = DiscoveryCache(tmp_path)
    seen = set()
    while any(writer.is_alive() for writer in writers):
        entry = cache.load(key)
        if entry is not None:
            seen.add(entry.connection_id)
            assert len(entry.pages["contacts"]) == 20
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    final = cache.load(key)
    assert final is not None and final.connection_id in {"connection-0", "connection-1"}
    assert not list(tmp_path.glob(".discovery-*")), "no temporary file left"
    assert json.loads(cache.path(key).read_text())["pages"]["contacts"][0] == action_to_json(final.pages["contacts"][0])


def test_the_key_follows_the_membrane_login(tmp_path: Path):
    """Another login (the credentials file rewritten) or another workspace or sandbox in the environment is
    another entry; the values themselves are only hashed, never written."""
    home = tmp_path / "home"
    (home / ".membrane").mkdir(parents=True)
    credentials = home / ".membrane" / "credentials.json"

    def key(env: dict[str, str]) -> str:
        return cache_key(["/bin/membrane"], None, INTENTS, 20, False, account_marker(env, home))

    logged_out = key({})
    credentials.write_text('{"token": "first"}')
    first = key({})
    os.utime(credentials, ns=(1, 1))
    credentials.write_text('{"token": "second-login"}')
    second = key({})
    workspace = key({"MEMBRANE_WORKSPACE_KEY": "w2", "PATH": "/x"})
    assert len({logged_out, first, second, workspace}) == 4
    assert key({"PATH": "/y", "HOME": "/z"}) == second, "only Membrane's own variables count"
    entry = Entry(connection_id="c", pages={"contacts": []})
    cache = DiscoveryCache(tmp_path / "cache")
    assert cache.save(workspace, entry)
    assert "w2" not in cache.path(workspace).read_text()


def test_entries_nobody_uses_are_pruned_and_a_used_one_is_kept(tmp_path: Path):
    cache = DiscoveryCache(tmp_path)
    entry = Entry(connection_id="c", pages={"contacts": []})
    day = 24 * 3600.0
    now = time.time()
    for n in [*range(MAX_ENTRIES + 4), 99]:
        cache.path(f"{n:032d}").write_bytes(encode(f"{n:032d}", entry))
        os.utime(cache.path(f"{n:032d}"), (now - n * 60, now - n * 60))  # entry n last used n minutes ago
    old = f"{99:032d}"
    os.utime(cache.path(old), (now - 40 * day, now - 40 * day))
    leftover = tmp_path / ".discovery-dead.tmp"
    leftover.write_text("{")
    os.utime(leftover, (now - 2 * 3600, now - 2 * 3600))
    fresh_temp = tmp_path / ".discovery-writing.tmp"
    fresh_temp.write_text("{")

    assert cache.load(f"{MAX_ENTRIES + 3:032d}") is not None  # the least recently used, read now: used again
    removed = cache.prune(keep=old, now=now + 1)
    left = sorted(p.name for p in tmp_path.glob("discovery-*.json"))
    assert len(left) == MAX_ENTRIES
    assert cache.path(old).name in left, "the entry being written is kept, whatever its age"
    assert cache.path(f"{MAX_ENTRIES + 3:032d}").name in left, "reading an entry marks it used"
    assert leftover in removed and not leftover.exists()
    assert fresh_temp.exists(), "another server's write in progress is left alone"
    assert cache.load(old) is not None

    os.utime(cache.path(f"{1:032d}"), (now - 31 * day, now - 31 * day))
    assert cache.path(f"{1:032d}") in cache.prune(keep=old, now=now), "unused for 30 days: removed"


async def test_a_save_prunes_the_folder(sandbox: Sandbox, tmp_path: Path):
    now = time.time()
    for n in range(MAX_ENTRIES + 5):
        stale = tmp_path / f"discovery-{n:032d}.json"
        stale.write_text("{}")
        os.utime(stale, (now - 3600 - n, now - 3600 - n))
    app = await fill(tmp_path)
    async with app.running():
        pass
    files = list(tmp_path.glob("discovery-*.json"))
    assert len(files) == MAX_ENTRIES and entry_file(app) in files
