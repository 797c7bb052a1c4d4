"""The CLI surface: argv parsing, usage errors, output and error conventions, workspace commands."""

from __future__ import annotations

import re
import shutil

import pytest

from mautic_mcp.sandbox.args import UsageError, parse
from mautic_mcp.sandbox.workspace import CONNECTOR_ID
from tests.sandbox.conftest import CONN, Box

HEX24 = re.compile(r"^[0-9a-f]{24}$")
CONNECTION_FIELDS = {
    "id", "name", "key", "integrationKey", "state", "disconnected", "isDefunct", "integrationId",
    "connectorId", "integration", "createdAt", "updatedAt",
}  # fmt: skip


def test_parse_accepts_both_value_forms_and_any_order() -> None:
    a = parse(["action", "--limit", "5", "list", "--intent=contacts", "--json"])
    b = parse(["--json", "action", "list", "--intent", "contacts", "--limit=5"])
    for args in (a, b):
        assert args.positionals == ["action", "list"]
        assert args.value("limit") == "5" and args.value("intent") == "contacts" and args.flag("json")


def test_parse_short_and_repeated_options() -> None:
    args = parse(
        ["request", "c", "/p", "-X", "POST", "-H", "A: 1", "-HB: 2", "-d", "x=1", "--query=a=1", "--query", "b=2"]
    )
    assert args.value("method") == "POST" and args.value("data") == "x=1"
    assert args.values("header") == ["A: 1", "B: 2"]
    assert args.values("query") == ["a=1", "b=2"]


def test_parse_last_intent_wins_and_booleans_take_no_value() -> None:
    args = parse(["action", "list", "--intent=a", "--intent=b", "--json", "x"])
    assert args.value("intent") == "b" and args.positionals == ["action", "list", "x"]


@pytest.mark.parametrize("argv", [["--bogus"], ["-Z"], ["action", "list", "--limit"], ["--json=maybe"]])
def test_parse_rejects_bad_options(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        parse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["action"],
        ["action", "explode"],
        ["status", "--bogus"],
        ["status", "--intent=x"],
        ["action", "get"],
        ["request", CONN],
        ["login", "now"],
    ],
)
def test_usage_errors_exit_2_with_usage_on_stderr(box: Box, argv: list[str]) -> None:
    done = box.run(*argv)
    assert done.code == 2
    assert "usage: membrane" in done.err and done.out == ""


def test_help_and_version(box: Box) -> None:
    done = box.run("--help")
    assert done.code == 0 and "usage: membrane" in done.out
    done = box.run("--version")
    assert done.code == 0 and re.fullmatch(r"membrane-sandbox \d+\.\d+\.\d+ \(membrane-compatible\)\n", done.out)


def test_status_and_human_output(box: Box) -> None:
    assert box.ok("status", "--json") == {
        "loggedIn": True,
        "workspace": {"key": "sandbox", "name": "Mautic sandbox"},
        "user": {"email": "sandbox@example.com"},
        "apiUri": "sandbox://local",
    }
    done = box.run("status")
    assert done.code == 0 and "Logged in" in done.out


def test_login_logout(box: Box) -> None:
    assert box.ok("login", "--tenant", "--json")["loggedIn"] is True
    assert box.ok("logout", "--json")["loggedOut"] is True
    assert box.ok("status", "--json")["loggedIn"] is True
    out = box.ok("login", "--tenant", "--json", env={"MEMBRANE_SANDBOX_STATE": "logged_out"})
    assert out["loggedIn"] is False and out["url"].startswith("https://") and "login complete" in out["next"]
    done = box.run("login", "complete", "ABC123", env={"MEMBRANE_SANDBOX_STATE": "logged_out"})
    assert done.code == 0 and "https://" in done.out


def test_connection_list_and_get(box: Box) -> None:
    items = box.ok("connection", "list", "--json")["items"]
    assert len(items) == 1
    conn = items[0]
    assert set(conn) >= CONNECTION_FIELDS
    assert conn["id"] == CONN and HEX24.match(conn["id"]) and HEX24.match(conn["integrationId"])
    assert conn["state"] == "READY" and conn["integrationKey"] == "mautic" and conn["integration"]["key"] == "mautic"
    assert box.ok("connection", "get", CONN, "--json") == conn
    assert box.ok("connection", "list", "--json") == {"items": [conn]}


def test_errors_go_to_stderr_and_to_stdout_with_json(box: Box) -> None:
    done = box.run("connection", "get", "0" * 24, "--json")
    assert done.code == 1
    error = done.error()
    assert error["type"] == "bad_request" and error["key"] == "not_found" and "0" * 24 in error["message"]
    assert done.json() == error and len(done.err.strip().splitlines()) == 1
    done = box.run("connection", "get", "0" * 24)
    assert done.code == 1 and done.out == "" and done.error() == error


def test_search_connector(box: Box) -> None:
    items = box.ok("search", "Mautic", "--elementType=connector", "--json")["items"]
    assert items == [
        {
            "elementType": "connector",
            "element": {
                "id": CONNECTOR_ID,
                "key": "mautic",
                "name": "Mautic",
                "logoUri": items[0]["element"]["logoUri"],
            },
        }
    ]
    assert box.ok("search", "auti", "--json")["items"]
    assert box.ok("search", "hubspot", "--elementType", "connector", "--json") == {"items": []}


def test_connect(box: Box) -> None:
    new = box.ok("connect", f"--connectorId={CONNECTOR_ID}", "--json")
    assert new["state"] == "CLIENT_ACTION_REQUIRED" and new["id"] != CONN
    assert new["clientAction"]["type"] == "connect" and new["clientAction"]["uiUrl"].startswith("https://")
    again = box.ok("connect", "--connectionId", CONN, "--json")
    assert again["id"] == CONN and again["clientAction"]["uiUrl"]
    assert box.ok("connection", "list", "--json")["items"][0]["state"] == "READY"
    assert box.run("connect", "--connectorId=nope", "--json").error()["key"] == "not_found"


def test_reset_restores_seed(box: Box) -> None:
    assert box.action("delete-contact", {"id": 1}) == {"id": 1, "deleted": True}
    out = box.ok("reset", "--json")
    assert out == {"reset": True, "path": str(box.db)}
    assert box.action("get-contact", {"id": 1})["id"] == 1


def test_console_script_matches_module(box: Box) -> None:
    script = shutil.which("membrane-sandbox")
    if script is None:
        pytest.skip("membrane-sandbox is not installed on PATH")
    import subprocess

    done = subprocess.run([script, "status", "--json"], env=box.environ(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == box.run("status", "--json").out
