"""The store: default location, deterministic seeding, and safety under parallel processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mautic_mcp.sandbox import store
from tests.sandbox.conftest import CONN, Box


def test_default_path_matches_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import platformdirs

    monkeypatch.delenv("MEMBRANE_SANDBOX_DB", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    expected = os.path.join(platformdirs.user_data_dir("mautic-mcp-sandbox"), "sandbox.db")
    assert store.default_db_path() == expected == store.db_path()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert store.default_db_path() == os.path.join(platformdirs.user_data_dir("mautic-mcp-sandbox"), "sandbox.db")
    monkeypatch.setenv("MEMBRANE_SANDBOX_DB", str(tmp_path / "x.db"))
    assert store.db_path() == str(tmp_path / "x.db")


def dump(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return [
            row
            for table in (*store.ENTITY_TABLES, "segment_contacts", "campaign_contacts", "company_contacts")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
        ]
    finally:
        conn.close()


def test_seed_is_deterministic_fast_and_wal(tmp_path: Path) -> None:
    began = time.perf_counter()
    store.reset(str(tmp_path / "a.db"))
    assert time.perf_counter() - began < 0.5
    store.reset(str(tmp_path / "b.db"))
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert not list(tmp_path.glob(".*.tmp"))


def test_first_use_creates_the_store_in_a_new_directory(box: Box, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "sandbox.db"
    out = box.ok(
        "action", "run", "list-stages", f"--connectionId={CONN}", "--json", env={"MEMBRANE_SANDBOX_DB": str(target)}
    )
    assert out["output"]["total"] == 4 and target.exists()


def _spawn(box: Box, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        box.argv(*args),
        env=box.environ(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_parallel_first_use_seeds_once(box: Box, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "sandbox.db"
    env = {"MEMBRANE_SANDBOX_DB": str(target)}
    procs = [
        _spawn(box, env, "action", "run", "create-contact", f"--connectionId={CONN}",
               f"--input={json.dumps({'email': f'first{i}@example.com'})}", "--json")
        for i in range(6)
    ]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    emails = {f"first{i}@example.com" for i in range(6)}
    rows = box.ok("request", CONN, "/api/contacts", "--query=limit=0", env=env)["contacts"].values()
    assert emails <= {r["fields"]["all"]["email"] for r in rows}
    assert len(rows) == 226
    assert not list(target.parent.glob(".*.tmp"))


def test_eight_parallel_writers_lose_nothing(box: Box) -> None:
    log = box.tmp / "log.jsonl"
    env = {"MEMBRANE_SANDBOX_LOG": str(log)}
    procs = []
    for writer in range(8):
        for n in range(3):
            payload = json.dumps({"email": f"w{writer}-{n}@example.com", "firstname": f"Writer{writer}"})
            procs.append(
                _spawn(
                    box,
                    env,
                    "action",
                    "run",
                    "create-contact",
                    f"--connectionId={CONN}",
                    f"--input={payload}",
                    "--json",
                )
            )
        procs.append(
            _spawn(box, env, "request", CONN, "/api/contacts/new", "-X", "POST", "--json", "-d",
                   json.dumps({"email": f"proxy{writer}@example.com"}))
        )  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    rows = box.ok("request", CONN, "/api/contacts", "--query=search=example.com", "--query=limit=0")["contacts"]
    emails = {r["fields"]["all"]["email"] for r in rows.values()}
    expected = {f"w{w}-{n}@example.com" for w in range(8) for n in range(3)} | {
        f"proxy{w}@example.com" for w in range(8)
    }
    assert expected <= emails
    ids = sorted(int(i) for i in rows)
    assert len(ids) == len(set(ids))
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) == len(procs) and {e["exit"] for e in entries} == {0}
    overlapping = max(sum(1 for e in entries if e["start"] <= t["start"] < e["end"]) for t in entries)
    assert overlapping >= 2, "the writers did not run concurrently"


def test_reset_replaces_a_changed_store(box: Box) -> None:
    box.action("delete-company", {"id": 3})
    assert box.run("action", "run", "get-company", f"--connectionId={CONN}", '--input={"id": 3}', "--json").code == 1
    box.ok("reset", "--json")
    assert box.action("get-company", {"id": 3})["id"] == 3


@pytest.mark.parametrize(
    "modules",
    [
        ("cli",),
        ("actions", "commands", "catalog", "routing", "entities", "rendering", "search", "writes", "relations"),
        ("timeline", "stats", "batch", "history", "values", "responses"),
    ],
)
def test_module_and_import_do_no_work(tmp_path: Path, modules: tuple[str, ...]) -> None:
    heavy = ("sqlite3", "argparse", "typing", "platformdirs")
    imports = ", ".join(f"mautic_mcp.sandbox.{name}" for name in modules)
    code = f"import {imports}, sys; print([m for m in {heavy!r} if m in sys.modules])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBRANE_SANDBOX_")}
    env["MEMBRANE_SANDBOX_DB"] = str(tmp_path / "never.db")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert not (tmp_path / "never.db").exists()


def test_a_store_made_before_the_change_logs_is_upgraded_on_open(tmp_path: Path) -> None:
    """A store from an older sandbox (user_version 0, base schema) gains the new columns and tables, keeps its
    rows, and serves the routes that read them."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(store.SCHEMA)
    data = json.dumps({"email": "old@example.com", "dateAdded": "2024-01-01T00:00:00+00:00", "points": 0})
    conn.execute("INSERT INTO contacts (ukey, published, search, data) VALUES ('old@example.com', 1, '', ?)", (data,))
    conn.execute("INSERT INTO campaigns (ukey, published, search, data) VALUES (NULL, 1, '', '{\"name\": \"C\"}')")
    conn.execute("INSERT INTO campaign_contacts VALUES (1, 1, '2024-01-02T00:00:00+00:00')")
    conn.execute("INSERT INTO email_sends (email_id, contact_id, date_sent) VALUES (1, 1, '2024-01-03T00:00:00+00:00')")
    conn.close()
    opened = store.open_store(str(path))
    try:
        assert opened.conn.execute("PRAGMA user_version").fetchone()[0] == len(store.UPGRADES)
        from mautic_mcp.sandbox.routing import handle

        status, body = handle(opened, "GET", "/api/campaigns/1/contacts", {}, None)
        assert status == 200 and body["contacts"][0]["rotation"] == "1" and body["contacts"][0]["lead_id"] == "1"
        status, body = handle(opened, "GET", "/api/contacts/1/activity", {}, None)
        assert status == 200 and [e["event"] for e in body["events"]] == ["email.sent"]
        assert handle(opened, "POST", "/api/campaigns/1/contact/1/remove", {}, None)[0] == 200
        assert handle(opened, "GET", "/api/campaigns/1/contacts", {}, None)[1]["total"] == "0"
    finally:
        opened.conn.close()
    again = store.open_store(str(path))  # already upgraded: opening again changes nothing
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] == len(store.UPGRADES)
    again.conn.close()
