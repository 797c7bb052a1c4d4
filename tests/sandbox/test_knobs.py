"""State and fault knobs, the knobs file, and the invocation log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mautic_mcp.sandbox.knobs import KnobError, load
from tests.sandbox.conftest import CONN, Box
from tests.support import alive

RUN_LIST = ("action", "run", "list-contacts", f"--connectionId={CONN}", "--input={}", "--json")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="process groups and signals are POSIX")


def state(name: str) -> dict[str, str]:
    return {"MEMBRANE_SANDBOX_STATE": name}


def fault(spec: str, on: str | None = None) -> dict[str, str]:
    env = {"MEMBRANE_SANDBOX_FAULT": spec}
    if on is not None:
        env["MEMBRANE_SANDBOX_FAULT_ON"] = on
    return env


# --- states ----------------------------------------------------------------------------------------------


def test_logged_out(box: Box) -> None:
    env = state("logged_out")
    assert box.ok("status", "--json", env=env) == {"loggedIn": False}
    for argv in (("connection", "list", "--json"), RUN_LIST, ("action", "list", "--json")):
        done = box.run(*argv, env=env)
        assert done.code == 1
        assert done.error() == {
            "type": "configuration",
            "key": "not_authenticated",
            "message": "Not logged in. Run `membrane login --tenant` to authenticate.",
        }
    done = box.run("request", CONN, "/api/contacts", env=env)
    assert done.code == 1 and done.out == "" and done.error()["key"] == "not_authenticated"
    assert box.run("--version", env=env).code == 0
    assert box.run("logout", env=env).code == 0
    assert "https://" in box.run("login", "--tenant", env=env).out


def test_no_connection(box: Box) -> None:
    env = state("no_connection")
    assert box.ok("connection", "list", "--json", env=env) == {"items": []}
    for argv in (RUN_LIST, ("action", "list", f"--connectionId={CONN}", "--json"), ("request", CONN, "/api/contacts")):
        done = box.run(*argv, env=env)
        assert done.code == 1 and done.error()["key"] == "not_found" and CONN in done.error()["message"]
    assert box.ok("action", "list", "--json", env=env)["items"]


def test_needs_reconnect(box: Box) -> None:
    env = state("needs_reconnect")
    [conn] = box.ok("connection", "list", "--json", env=env)["items"]
    assert conn["state"] == "CLIENT_ACTION_REQUIRED"
    action = conn["clientAction"]
    assert action["type"] == "connect" and "expired" in action["description"]
    assert action["uiUrl"].startswith("https://") and action["agentInstructions"]
    for argv in (RUN_LIST, ("request", CONN, "/api/contacts")):
        error = box.run(*argv, env=env).error()
        assert error["type"] == "connection" and error["key"] == "access_token_expired"
        assert f"membrane connect --connectionId={CONN}" in error["message"]
    assert box.ok("action", "list", f"--connectionId={CONN}", "--json", env=env)["items"]


def test_defunct(box: Box) -> None:
    env = state("defunct")
    [conn] = box.ok("connection", "list", "--json", env=env)["items"]
    assert conn["isDefunct"] is True and conn["state"] == "CONFIGURATION_ERROR"
    assert conn["error"] == {"message": "The Mautic instance rejected the credentials"}
    for argv in (RUN_LIST, ("request", CONN, "/api/contacts")):
        error = box.run(*argv, env=env).error()
        assert error["type"] == "connection" and error["key"] == "connection_is_defunct"


def test_unknown_knob_values_are_reported(box: Box) -> None:
    for env in (state("sleepy"), fault("explode"), fault("slow:soon")):
        done = box.run("status", "--json", env=env)
        assert done.code == 1 and done.error()["type"] == "internal"


# --- faults ----------------------------------------------------------------------------------------------


def test_slow(box: Box) -> None:
    began = time.monotonic()
    out = box.ok(*RUN_LIST, env=fault("slow:0.6"))
    assert time.monotonic() - began >= 0.6 and out["output"]["total"] == 220


def test_garbage(box: Box) -> None:
    done = box.run(*RUN_LIST, env=fault("garbage"))
    assert done.code == 0 and done.out.strip()
    with pytest.raises(ValueError):
        json.loads(done.out)


@pytest.mark.parametrize("size", [50_000, 2_000_000])
def test_huge_action_run(box: Box, size: int) -> None:
    done = box.run(*RUN_LIST, env=fault(f"huge:{size}"))
    assert done.code == 0
    assert 0.8 * size <= len(done.out) <= 1.25 * size
    body = json.loads(done.out)
    records = body["output"]["records"]
    assert len(records) > 10 and len({r["id"] for r in records}) == len(records) and "email" in records[0]


def test_huge_request_and_list(box: Box) -> None:
    done = box.run("request", CONN, "/api/contacts", env=fault("huge:300000"))
    body = json.loads(done.out)
    assert done.code == 0 and 240_000 <= len(done.out) <= 375_000
    assert int(body["total"]) == len(body["contacts"]) and isinstance(body["total"], str)
    listed = box.ok("action", "list", "--json", env=fault("huge:100000"))
    assert len(json.dumps(listed)) >= 80_000 and listed["items"][0]["id"]


@posix_only
def test_crash(box: Box) -> None:
    done = box.run(*RUN_LIST, env=fault("crash"))
    assert done.code == -signal.SIGKILL and done.out == ""


def test_rate_limited(box: Box) -> None:
    done = box.run(*RUN_LIST, env=fault("rate_limited"))
    expected = {
        "type": "bad_request",
        "key": "rate_limit_exceeded",
        "message": "Rate limit exceeded. Retry after 30 seconds.",
        "data": {"retryAfter": 30},
    }
    assert done.code == 1 and done.error() == expected and done.json() == expected
    done = box.run("request", CONN, "/api/contacts", env=fault("rate_limited"))
    assert done.code == 1 and done.out == "" and done.error() == expected


def test_stderr_noise(box: Box) -> None:
    done = box.run(*RUN_LIST, env=fault("stderr_noise"))
    assert done.code == 0 and done.json()["output"]["total"] == 220
    lines = done.err.strip().splitlines()
    assert len(lines) >= 4
    parsed, broken = [], []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            broken.append(line)
    assert parsed and not any({"type", "key", "message"} <= set(p) for p in parsed)
    assert any(line.startswith("{") for line in broken)


@posix_only
def test_hang_leaves_a_grandchild_in_the_same_group(box: Box) -> None:
    log = box.tmp / "log.jsonl"
    proc = subprocess.Popen(
        box.argv(*RUN_LIST),
        env=box.environ({**fault("hang"), "MEMBRANE_SANDBOX_LOG": str(log)}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and log.read_text().strip()):
            assert time.monotonic() < deadline, "no start line"
            time.sleep(0.02)
        entry = json.loads(log.read_text().splitlines()[0])
        grandchild = entry["grandchild"]
        assert entry["pid"] == proc.pid and entry["pgid"] == proc.pid
        assert os.getpgid(grandchild) == proc.pid
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(grandchild):
        assert time.monotonic() < deadline, "grandchild survived the group kill"
        time.sleep(0.02)


def test_fault_on_limits_the_fault(box: Box) -> None:
    env = fault("rate_limited", on="request")
    assert box.run(*RUN_LIST, env=env).code == 0
    assert box.run("request", CONN, "/api/stages", env=env).code == 1
    env = fault("rate_limited", on="action")
    assert box.run(*RUN_LIST, env=env).code == 1
    assert box.run("action", "list", "--json", env=env).code == 1
    assert box.run("status", "--json", env=env).code == 0
    assert box.run("reset", env=fault("rate_limited")).code == 0
    assert box.run("status", env=fault("rate_limited")).code == 1


# --- the knobs file and the log ----------------------------------------------------------------------------


def test_knobs_file_overrides_env_and_is_read_every_time(box: Box) -> None:
    env = {**state("ready"), **fault("rate_limited")}
    path = box.knobs(state="logged_out", fault="")
    assert box.ok("status", "--json", env=env) == {"loggedIn": False}
    path.write_text(json.dumps({"fault": "rate_limited", "fault_on": ["action run"]}))
    assert box.ok("status", "--json", env=env)["loggedIn"] is True
    assert box.run(*RUN_LIST, env=env).error()["key"] == "rate_limit_exceeded"
    path.unlink()
    assert box.run("status", "--json", env=env).code == 1
    path.write_text("{broken")
    assert box.run("status", "--json").error()["type"] == "internal"


def test_knobs_load_unit() -> None:
    knobs = load({"MEMBRANE_SANDBOX_FAULT": "slow:1.5", "MEMBRANE_SANDBOX_FAULT_ON": "action run, request"})
    assert knobs.state == "ready" and knobs.fault == "slow" and knobs.fault_arg == "1.5"
    assert knobs.fault_for("request") == "slow" and knobs.fault_for("action run") == "slow"
    assert knobs.fault_for("action list") == ""
    assert load({"MEMBRANE_SANDBOX_FAULT": "hang"}).fault_for("reset") == ""
    with pytest.raises(KnobError):
        load({"MEMBRANE_SANDBOX_FAULT": "huge:-1"})


def test_log_lines(box: Box) -> None:
    log = box.tmp / "log.jsonl"
    env = {"MEMBRANE_SANDBOX_LOG": str(log)}
    box.run("status", "--json", env=env)
    box.run("connection", "get", "nope", env=env)
    box.run("--bogus", env=env)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["exit"] for e in entries] == [0, 1, 2]
    assert entries[0]["argv"] == ["status", "--json"]
    for entry in entries:
        assert {"pid", "pgid", "argv", "start", "end", "exit"} <= set(entry)
        assert entry["start"] <= entry["end"]
