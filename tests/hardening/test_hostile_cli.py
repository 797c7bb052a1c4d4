"""A hostile CLI, over real stdio: the server answers, keeps answering, leaves nothing running, and tells no secret.

The CLI's output is untrusted: anyone in a Membrane workspace can write an action, and the CLI prints
whatever Mautic returns. One server (`mautic-mcp --membrane-bin=<fake>`) is driven through every case in
raw JSON-RPC lines, each line read as strict JSON and strict UTF-8. After each case: the next call is
answered, every process the fake started is gone (its strays too), and neither the result nor the
server's log holds a secret the fake printed or the call's own input.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.helpers import (
    HostileSession,
    hostile_log,
    not_json,
    processes_with_env,
    wait_all_gone,
    write_hostile_cli,
)
from tests.support import alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc checks, setsid strays")

CONNECTION = "conn-hostile-1"
BEARER = "tok_4f9a1c7e2b8d6a3f0e5c"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNlY3JldA"
INPUT_SECRET = "pw-Hunter2-input-SECRET"
QUERY_SECRET = "qs-access-token-SECRET-77"
SECRETS = (BEARER, JWT, INPUT_SECRET, QUERY_SECRET)
UNKNOWN = "unknown whether the change was made"
NOT_MADE = "The change was not made"
LONE = "\ud83d"

SCHEMA_ID = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
SCHEMA_CREATE = {"type": "object", "properties": {"email": {"type": "string"}, "note": {"type": "string"}}}
CATALOG = [
    {"id": "act-get", "key": "get-contact", "name": "Get contact", "inputSchema": SCHEMA_ID},
    {"id": "act-create", "key": "create-contact", "name": "Create contact", "inputSchema": SCHEMA_CREATE},
    {"id": "-h", "key": "find-flagged", "name": "Find flagged", "inputSchema": {"type": "object"}},
    {
        "id": "act-cut",
        "key": "list-cut",
        "name": f"Cut {LONE}",
        "description": f"Lists what Node cut mid-emoji {LONE}",
        "inputSchema": {"type": "object", "properties": {f"k{LONE}": {"type": "string", "title": f"t{LONE}"}}},
    },
    {
        "id": "act-long",
        "key": "search-long",
        "name": "N" * 5_000,
        "description": "D" * 50_000,
        "inputSchema": {
            "type": "object",
            "properties": {"kind": {"type": "string", "title": "T" * 5_000, "enum": [f"v{i}" for i in range(5_000)]}},
        },
    },
    *({"id": f"filler-{i}", "key": f"list-filler-{i}", "name": f"Filler {i}"} for i in range(40)),
]
LIMIT = 8
ANSWERS = {
    "version": "membrane 9.9.9",
    "connection list": {"items": [{"id": CONNECTION, "name": "Mautic", "integrationKey": "mautic", "state": "READY"}]},
    "action list": {"items": CATALOG},
    "action run": {"output": {"id": 1, "email": "ok@example.org"}},
    "request": {"total": 1, "contacts": {"1": {"id": 1}}},
}
GET = ("get_contact", {"id": 1})
CREATE = ("create_contact", {"email": "new@example.org", "note": INPUT_SECRET})
PROXY_GET = ("proxy_request", {"path": "/api/contacts", "query": {"access_token": QUERY_SECRET, "limit": 1}})
PROXY_POST = ("proxy_request", {"method": "POST", "path": "/api/contacts/new", "body": {"note": INPUT_SECRET}})
LEAK = f"Authorization: Bearer {BEARER} jwt={JWT}"


class Session(HostileSession):
    """The hostile server of this module: its CLI answers with ANSWERS unless a case says otherwise."""

    def __init__(self, program: Path, folder: Path, *flags: str) -> None:
        super().__init__(program, folder, ANSWERS, *flags)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[Session]:
    program = write_hostile_cli(folder / "bin")
    session = Session(program, folder, "--intent=contacts", f"--limit={LIMIT}", "--timeout=5")
    try:
        session.initialize()
        yield session
    finally:
        session.close()
        wait_all_gone(hostile_log(session.log))


@pytest.fixture
def case(server: Session) -> Iterator[Session]:
    """After the case: the next call is answered, nothing the CLI started runs, no secret was logged."""
    before = len(hostile_log(server.log))
    yield server
    server.set()
    is_error, shown = server.result(*GET)
    assert not is_error and json.loads(shown)["id"] == 1, shown
    started = hostile_log(server.log)[before:]
    wait_all_gone(started, 5.0)
    running = [pid for pid in processes_with_env("HOSTILE_LOG", str(server.log)) if pid != server.pid]
    assert running == [], "a process of the fake CLI is still running"
    log = server.stderr()
    for secret in SECRETS:
        assert secret not in log, f"the log holds {secret!r}"
    assert not any(separator in log for separator in ("\u2028", "\u2029", "\x85", "\r")), "a line break was forged"


def failed(session: Session, name: str, arguments: dict[str, Any]) -> str:
    is_error, shown = session.result(name, arguments)
    assert is_error, shown[:500]
    for secret in SECRETS:
        assert secret not in shown, f"the result holds {secret!r}: {shown}"
    assert "Traceback" not in shown and "internal error" not in shown, shown
    return shown


# --- 1, 3: what the answers hold -----------------------------------------------------------------------


def test_the_catalog_is_cut_to_the_limit_with_surrogates_repaired_and_text_capped(server: Session):
    answer = server.request("tools/list")
    tools = {tool["name"]: tool for tool in answer["result"]["tools"]}
    assert len(tools) == LIMIT + 1, sorted(tools)  # the CLI sent 45 actions for --limit=8; and proxy_request
    cut = tools["list_cut"]
    assert "\ufffd" in cut["description"] and LONE not in json.dumps(cut, ensure_ascii=False)
    assert "k\ufffd" in cut["inputSchema"]["properties"]
    long = tools["search_long"]
    assert len(long["description"]) <= 2_000 and len(long.get("title", "")) <= 200
    kind = long["inputSchema"]["properties"]["kind"]
    assert "enum" not in kind and len(kind.get("title", "")) <= 200, "5,000 values are dropped, not cut"


@pytest.mark.parametrize("call", [GET, PROXY_GET], ids=["action", "proxy"])
def test_lone_surrogates_in_an_answer_become_replacement_characters(case: Session, call: tuple[str, Any]):
    raw = '{"output": {"name": "cut \\ud83d", "\\udc00key": "x\\udfff", "ok": "\\ud83d\\ude00"}}'
    proxy_raw = '{"name": "cut \\ud83d", "\\udc00key": "x\\udfff", "ok": "\\ud83d\\ude00"}'
    case.set(**{"action run": {"stdout": raw}, "request": {"stdout": proxy_raw}})
    is_error, shown = case.result(*call)
    assert not is_error, shown
    assert json.loads(shown)["name"] == "cut \ufffd" and json.loads(shown)["\ufffdkey"] == "x\ufffd"
    assert json.loads(shown)["ok"] == "\U0001f600", "a whole pair is the emoji it means"


@pytest.mark.parametrize("call", [GET, PROXY_GET], ids=["action", "proxy"])
def test_nan_and_infinity_come_back_as_strict_json(case: Session, call: tuple[str, Any]):
    body = '{"id": 1, "score": NaN, "high": Infinity, "low": -Infinity, "huge": 1e999, "fine": 2.5}'
    case.set(**{"action run": {"stdout": f'{{"output": {body}}}'}, "request": {"stdout": body}})
    is_error, shown = case.result(*call)
    assert not is_error, shown
    value = json.loads(shown, parse_constant=not_json)
    assert value["fine"] == 2.5 and all(value.get(k) is None for k in ("score", "high", "low", "huge"))
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in value.values())


# --- 2, 4: answers too deep or too large ---------------------------------------------------------------


DEEP = "[" * 5_000 + "]" * 5_000
NESTED_300 = '{"a":' * 300 + "1" + "}" * 300


@pytest.mark.parametrize("body", [DEEP, NESTED_300], ids=["5000-deep", "300-deep"])
@pytest.mark.parametrize("call", [GET, CREATE, PROXY_GET, PROXY_POST], ids=["read", "write", "proxy-get", "proxy-post"])
def test_an_answer_nested_too_deep_fails_that_call_alone(case: Session, body: str, call: tuple[str, Any]):
    case.set(**{"action run": {"stdout": f'{{"output": {body}}}'}, "request": {"stdout": body}})
    shown = failed(case, *call)
    assert "nested too deeply to read" in shown, shown
    is_write = call in (CREATE, PROXY_POST)
    assert (UNKNOWN in shown) == is_write and NOT_MADE not in shown, shown


@pytest.mark.parametrize("call", [GET, CREATE, PROXY_POST], ids=["read", "write", "proxy-post"])
def test_endless_output_is_too_large_at_once_not_a_timeout(case: Session, call: tuple[str, Any]):
    case.set(**{"action run": {"endless": True}, "request": {"endless": True}})
    started = time.monotonic()
    shown = failed(case, *call)
    assert "larger than 16 MB" in shown and "no answer within" not in shown, shown
    assert time.monotonic() - started < 4, "reported when the cap was reached, before the 5 s timeout"
    assert (UNKNOWN in shown) == (call is not GET), shown


# --- 4, 5: what a failed write says about the data ---------------------------------------------------------


def api(status: int, body: Any = "upstream failed") -> str:
    return json.dumps(
        {
            "type": "bad_request",
            "key": "external_api_error",
            "message": "x",
            "data": {"status": status, "response": body},
        }
    )


UNKNOWN_OUTCOMES = {
    "500": {"stdout": api(500, {"errors": [{"code": 500, "message": "Internal error"}]}), "exit": 1},
    "502": {"stdout": api(502, "<html>502 Bad Gateway</html>"), "exit": 1},
    "503": {"stdout": api(503), "exit": 1},
    "504": {"stdout": api(504), "exit": 1},
    "hang-up": {"stderr": f"Error: socket hang up\n    at connResetException (node:internal)\n{LEAK}", "exit": 1},
    "etimedout": {"stderr": "FetchError: request to https://api.invalid failed, reason: connect ETIMEDOUT", "exit": 1},
    "econnreset": {"stderr": "Error: read ECONNRESET", "exit": 1},
    "db-reconnect": {
        "stdout": json.dumps({"type": "internal", "message": "SQLSTATE[HY000] MySQL server has gone away; reconnect"}),
        "exit": 1,
    },
    "text-login": {"stderr": "Error: saving failed; to retry run the login flow of the app", "exit": 1},
    "passing-rate-limit": {
        "stdout": json.dumps({"type": "action_run", "message": "Saved, but the rate limit header was missing"}),
        "exit": 1,
    },
    "plain-not-logged-in": {"stderr": "You are not logged in. Run membrane login", "exit": 1},
}


@pytest.mark.parametrize("fault", sorted(UNKNOWN_OUTCOMES))
@pytest.mark.parametrize("call", [CREATE, PROXY_POST], ids=["action", "proxy"])
def test_a_failed_write_says_the_outcome_is_unknown_unless_known(case: Session, fault: str, call: tuple[str, Any]):
    behaviour = UNKNOWN_OUTCOMES[fault]
    case.set(**{"action run": behaviour, "request": behaviour})
    shown = failed(case, *call)
    assert UNKNOWN in shown and "before trying again" in shown, shown
    assert NOT_MADE not in shown, shown
    assert "Check the request and try again" not in shown, shown
    if fault == "db-reconnect":
        assert "re-authorized" not in shown, "a database error is not a connection to re-authorize"


KNOWN_REFUSALS = {
    "key-not-logged-in": {"type": "configuration", "key": "not_authenticated", "message": "Not logged in"},
    "key-rate-limited": {"type": "bad_request", "key": "rate_limit_exceeded", "message": "slow", "data": {}},
    "status-401": json.loads(api(401, {"errors": [{"code": 401, "message": "API credentials are invalid"}]})),
    "status-429": json.loads(api(429, "Too Many Requests")),
}


@pytest.mark.parametrize("refusal", sorted(KNOWN_REFUSALS))
def test_not_made_only_on_a_structured_key_or_a_refusing_status(case: Session, refusal: str):
    behaviour = {"stdout": json.dumps(KNOWN_REFUSALS[refusal]), "stderr": LEAK, "exit": 1}
    case.set(**{"action run": behaviour})
    shown = failed(case, *CREATE)
    assert NOT_MADE in shown and UNKNOWN not in shown, shown


def test_a_mautic_4xx_makes_no_claim_either_way(case: Session):
    case.set(**{"action run": {"stdout": api(422, {"errors": [{"code": 422, "message": "Bad email"}]}), "exit": 1}})
    shown = failed(case, *CREATE)
    assert "Bad email" in shown and UNKNOWN not in shown and NOT_MADE not in shown, shown


# --- 6: secrets and forged lines -----------------------------------------------------------------------------


@pytest.mark.parametrize("call", [CREATE, PROXY_POST, PROXY_GET], ids=["action", "proxy-post", "proxy-get"])
def test_stderr_with_tokens_and_the_echoed_input_is_quoted_without_them(case: Session, call: tuple[str, Any]):
    stderr = (
        f"DEBUG request headers: {{ authorization: 'Bearer {BEARER}' }}\n"
        f"DEBUG url: https://mautic.invalid/api/contacts?access_token={QUERY_SECRET}\n"
        f'DEBUG body: {{"password":"{INPUT_SECRET}","jwt":"{JWT}"}}\n'
        "Error: Validation failed"
    )
    behaviour = {"stderr": stderr, "echo": True, "exit": 1}
    case.set(**{"action run": behaviour, "request": behaviour})
    shown = failed(case, *call)
    assert "Validation failed" in shown, shown


def test_a_structured_message_carrying_tokens_is_redacted(case: Session):
    message = f"Upstream said: Authorization: Bearer {BEARER}; token={QUERY_SECRET}; {JWT}; got {INPUT_SECRET}"
    case.set(**{"action run": {"stdout": json.dumps({"type": "internal", "message": message}), "exit": 1}})
    shown = failed(case, *CREATE)
    assert "Upstream said" in shown and "[redacted]" in shown, shown


def test_line_separators_in_a_path_or_a_message_are_escaped_in_the_log(case: Session):
    forged = "/api/contacts/1\u2028INFO forged: all good\u2029\x85also forged"
    case.set(**{"request": {"stderr": "Error: bad\u2028INFO forged line\rreally", "exit": 1}})
    failed(case, "proxy_request", {"path": forged})
    log = case.stderr()
    assert "\\u2028INFO forged: all good" in log, log[-2_000:]


# --- 8, 9: strays, flags, interpreters --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pipe", "daemon"])
def test_a_stray_that_left_the_group_neither_stalls_the_call_nor_survives_it(case: Session, kind: str):
    before = len(hostile_log(case.log))
    case.set(**{"action run": {"stray": kind}})
    started = time.monotonic()
    is_error, shown = case.result(*GET)
    elapsed = time.monotonic() - started
    assert not is_error and json.loads(shown)["id"] == 1, shown
    assert elapsed < 3, f"an answered call waited {elapsed:.1f} s for a stray holding its pipe"
    strays = [entry["grandchild"] for entry in hostile_log(case.log)[before:] if "grandchild" in entry]
    assert len(strays) == 1
    deadline = time.monotonic() + 3
    while alive(strays[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(strays[0]), "the stray outlived its CLI call"


def test_an_id_that_looks_like_a_flag_is_passed_after_double_dash(case: Session):
    before = len(hostile_log(case.log))
    is_error, shown = case.result("find_flagged", {})
    assert not is_error, shown
    runs = [entry["argv"] for entry in hostile_log(case.log)[before:] if entry["command"] == "action run"]
    assert len(runs) == 1 and runs[0][-2:] == ["--", "-h"] and runs[0][:2] == ["action", "run"], runs


def test_the_server_served_every_case_and_nothing_it_started_runs(server: Session):
    assert server.process.poll() is None, "the server is still up after every case"
    entries = hostile_log(server.log)
    assert len(entries) > 50
    wait_all_gone(entries, 5.0)
