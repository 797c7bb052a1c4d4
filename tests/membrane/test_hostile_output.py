"""Untrusted CLI output, read by the membrane layer: safe to pass on, bounded, and without secrets.

Parsing is checked directly (and with hypothesis); everything else runs a real process: a fake CLI
written by the test, started through the one Runner.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautic_mcp.membrane.catalog import MAX_DESCRIPTION_CHARS, MAX_ENUM_VALUES, Action
from mautic_mcp.membrane.client import Membrane, command
from mautic_mcp.membrane.errors import ErrorCode, MembraneError
from mautic_mcp.membrane.output import MAX_DEPTH, TOO_DEEP, UNPARSED, loggable, parse_json, quote
from mautic_mcp.membrane.runner import Runner, describe_args
from tests.membrane.support import scripted
from tests.support import Sandbox, alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, setsid, process groups")

FAST = settings(max_examples=200, deadline=None)


async def failure(membrane: Membrane, *, write: bool = True) -> MembraneError:
    with pytest.raises(MembraneError) as raised:
        if write:
            await membrane.run_action("act-1", "conn-1", {"email": "x@example.org"})
        else:
            await membrane.list_connections()
    return raised.value


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def strict(value: Any) -> str:
    """What the server would send: strict JSON (no NaN), encodable as UTF-8 (no lone surrogate)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    return text


# --- parsing ---------------------------------------------------------------------------------------------


def test_lone_surrogates_become_replacement_characters_in_keys_and_values():
    raw = b'{"a\\ud83d": ["cut \\ud83d", {"\\udc00": "\\udfff"}], "pair": "\\ud83d\\ude00"}'
    value = parse_json(raw)
    assert value == {"a\ufffd": ["cut \ufffd", {"\ufffd": "\ufffd"}], "pair": "\U0001f600"}
    strict(value)


def test_nan_infinity_and_overflowing_numbers_are_null():
    value = parse_json(b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e999, "e": -1e999, "f": 1.5}')
    assert value == {"a": None, "b": None, "c": None, "d": None, "e": None, "f": 1.5}
    strict(value)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_nesting_over_the_cap_is_too_deep_not_an_exception(depth: int):
    assert parse_json(nested(depth).encode()) is TOO_DEEP
    assert parse_json(("warning\n" + nested(depth)).encode()) is TOO_DEEP


def test_nesting_at_the_cap_is_read():
    assert parse_json(nested(MAX_DEPTH).encode()) is not TOO_DEEP
    assert parse_json(b"not json") is UNPARSED


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@FAST
@given(json_values, st.lists(st.sampled_from(["\\ud83d", "\\udc00", "\\ud800\\ud800", "\\udfff"]), max_size=3))
def test_whatever_is_parsed_can_be_sent_as_strict_json(value: Any, cuts: list[str]):
    text = json.dumps(value)  # NaN and Infinity as Node never writes them, but a hostile CLI may
    for cut in cuts:
        text = text.replace('"', '"' + cut, 1) if '"' in text else text
    parsed = parse_json(text.encode())
    assert parsed is not UNPARSED and parsed is not TOO_DEEP
    strict(parsed)


# --- what is quoted and logged -------------------------------------------------------------------------------

SECRET = "S3cr3tValue_abcdef123456"
LEAKS = [
    f"Authorization: Bearer {SECRET}",
    f"authorization: 'Basic {SECRET}'",
    f"GET /api/contacts?access_token={SECRET}&limit=1",
    f"token={SECRET}",
    f"password={SECRET}",
    f'{{"apiKey": "{SECRET}"}}',
    f"{{ password: '{SECRET}' }}",
    f"Cookie: session={SECRET}",
    f"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{SECRET}",
]


@pytest.mark.parametrize("leak", LEAKS)
def test_credentials_are_redacted_from_quotes(leak: str):
    quoted = quote(f"Error: request failed; {leak}; try again")
    assert SECRET not in quoted and "[redacted]" in quoted and "request failed" in quoted


@FAST
@given(st.text())
def test_logged_text_is_always_one_line(text: str):
    shown = loggable(text)
    assert len(shown.splitlines()) <= 1 and "\r" not in shown and "\x1b" not in shown


def test_the_logged_call_masks_query_values_and_escapes_line_separators():
    args = ["request", "c1", "/api/x\u2028INFO forged", "--query=access_token=abc123secret", "--query", "k=v2"]
    shown = describe_args(args)
    assert "abc123secret" not in shown and "v2" not in shown and "--query=…" in shown
    assert "\u2028" not in shown and "\\u2028INFO forged" in shown


async def test_a_real_call_logs_one_line_and_no_query_value(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="mautic_mcp.membrane.runner")
    membrane = scripted(json.dumps({"ok": True}))
    path = "/api/contacts/1\u2028INFO forged\u0085\r\nline"
    await membrane.request("c1", path, method="GET", query=[("access_token", "q-secret-123456")])
    logged = [record.getMessage() for record in caplog.records]
    assert logged and all(len(line.splitlines()) == 1 for line in logged), logged
    assert not any("q-secret-123456" in line for line in logged)


async def test_stderr_is_quoted_by_its_error_line_without_tokens_or_the_input():
    stderr = (
        f"DEBUG headers {{ authorization: 'Bearer {SECRET}' }}\n"
        'DEBUG input {"email":"x@example.org"}\n'
        "Error: Validation failed for x@example.org\n"
        "    at run (/usr/lib/node_modules/@membranehq/cli/dist/index.js:1:1)\n"
    )
    error = await failure(scripted(stderr=stderr, exit_code=1))
    assert "Validation failed" in error.message and SECRET not in error.message
    assert "x@example.org" not in error.message and "DEBUG" not in error.message and " at run" not in error.message


# --- what a failure says about the data -------------------------------------------------------------------


def structured(**fields: Any) -> str:
    return json.dumps({"type": "bad_request", "message": "x", **fields})


@pytest.mark.parametrize(
    ("stdout", "stderr", "code"),
    [
        (structured(key="external_api_error", data={"status": 500, "response": "oops"}), "", ErrorCode.API_ERROR),
        (structured(key="external_api_error", data={"status": 503}), "", ErrorCode.API_ERROR),
        (structured(key="external_api_error", data={"response": {"errors": []}}), "", ErrorCode.API_ERROR),
        ("", "Error: socket hang up", ErrorCode.NETWORK_ERROR),
        ("", "Error: connect ETIMEDOUT 10.0.0.1:443", ErrorCode.NETWORK_ERROR),
        ("", "Error: read ECONNRESET", ErrorCode.NETWORK_ERROR),
        ("", "AxiosError: Request failed with status code 502", ErrorCode.API_ERROR),
        ("", "You are not logged in. Run membrane login", ErrorCode.NOT_LOGGED_IN),
        ("", "Error: please reconnect the connection", ErrorCode.RECONNECT_NEEDED),
        ("", "Error: rate limit headers missing", ErrorCode.RATE_LIMITED),
        ("", "Error: run the login step of the import first", ErrorCode.FAILED),
        (json.dumps({"type": "internal", "message": "DB gone away; reconnect"}), "", ErrorCode.FAILED),
        ("", "segfault", ErrorCode.FAILED),
    ],
)
async def test_failures_not_known_before_sending_leave_the_outcome_unknown(stdout: str, stderr: str, code: str):
    error = await failure(scripted(stdout, stderr, 1))
    assert error.code == code, error.message
    assert error.outcome_unknown and not error.not_made
    assert "unknown whether the change was made" in error.after_write("a read")


@pytest.mark.parametrize(
    "stdout",
    [
        structured(key="not_authenticated"),
        structured(key="rate_limit_exceeded", data={"retryAfter": 5}),
        structured(key="access_token_expired"),
        structured(key="connection_is_defunct"),
        structured(key="external_api_error", data={"status": 401, "response": "no"}),
        structured(key="external_api_error", data={"status": 429, "response": "slow"}),
    ],
)
async def test_only_a_structured_key_or_a_refusing_status_says_not_made(stdout: str):
    error = await failure(scripted(stdout, "Error: socket hang up while logging in", 1))
    assert error.not_made and not error.outcome_unknown
    assert error.after_write("a read") == " The change was not made."


async def test_a_mautic_4xx_neither_claims_nor_doubts():
    stdout = structured(key="external_api_error", data={"status": 422, "response": {"errors": [{"message": "Bad"}]}})
    error = await failure(scripted(stdout, "", 1))
    assert not error.outcome_unknown and not error.not_made and "Bad" in error.message


# --- answers too deep or too large ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 5_000])
async def test_an_answer_too_deep_is_an_error_for_that_call_alone(depth: int):
    membrane = scripted('{"output": ' + nested(depth) + "}")
    error = await failure(membrane)
    assert error.code is ErrorCode.OUTPUT_TOO_DEEP and error.outcome_unknown
    assert "too deeply" in error.what
    deep_request = scripted(nested(depth))
    with pytest.raises(MembraneError, match="too deeply"):
        await deep_request.request("c1", "/api/x", method="POST", body="{}")
    assert await scripted(json.dumps({"output": [1]})).run_action("a", "c", {}) == [1]


async def test_endless_output_is_too_large_at_once():
    runner = Runner(
        [sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)"],
        timeout=30,
        max_concurrency=1,
        max_stdout_bytes=2 * 1024 * 1024,
    )
    started = time.monotonic()
    with pytest.raises(MembraneError) as raised:
        await Membrane(runner).run_action("a", "c", {})
    assert raised.value.code is ErrorCode.OUTPUT_TOO_LARGE and raised.value.outcome_unknown
    assert time.monotonic() - started < 5


# --- the catalog -----------------------------------------------------------------------------------------------


async def test_the_catalog_is_cut_to_the_limit_and_each_entry_bounded(tmp_path: Path):
    entries = [
        {
            "id": f"a{i}",
            "key": "k" * 1_000,
            "name": f"cut \ud83d {i}" + "n" * 1_000,
            "description": "d" * 100_000,
            "inputSchema": {
                "type": "object",
                "title": "t" * 1_000,
                "properties": {
                    "big": {"type": "string", "enum": [str(n) for n in range(MAX_ENUM_VALUES + 1)]},
                    "small": {"type": "string", "enum": ["a", "b"], "description": "x" * 10_000},
                },
            },
        }
        for i in range(30)
    ]
    entries.insert(0, {"id": "-" + "x" * 500, "key": "too-long-id"})
    entries.insert(0, {"id": "bad\nid", "key": "control-in-id"})
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps({"items": entries}))
    printer = f"import sys; sys.stdout.write(open({str(answer)!r}).read())"
    membrane = Membrane(Runner([sys.executable, "-c", printer], timeout=20, max_concurrency=1))
    actions = await membrane.list_actions("c1", "contacts", 5)
    assert [action.id for action in actions] == ["a0", "a1", "a2", "a3", "a4"]
    first = actions[0]
    assert len(first.key) <= 200 and len(first.name) <= 200 and len(first.description) <= MAX_DESCRIPTION_CHARS
    assert "\ufffd" in first.name
    schema = first.input_schema
    assert len(schema["title"]) <= 200
    assert "enum" not in schema["properties"]["big"], "an oversized enum is dropped, never cut"
    assert schema["properties"]["small"]["enum"] == ["a", "b"]
    assert len(schema["properties"]["small"]["description"]) <= 1_000
    strict(schema)


def test_a_schema_too_deep_for_the_parser_is_no_schema():
    schema: Any = {"type": "object"}
    for _ in range(MAX_DEPTH + 10):
        schema = {"type": "object", "properties": {"x": schema}}
    action = Action.from_entry({"id": "a1", "inputSchema": schema})
    assert action is not None and action.input_schema is None


# --- ids that look like flags ----------------------------------------------------------------------------------


def test_positionals_that_look_like_flags_go_after_double_dash():
    assert command(["action", "run"], ["a1"], ["--json"]) == ["action", "run", "a1", "--json"]
    assert command(["action", "run"], ["-h"], ["--json"]) == ["action", "run", "--json", "--", "-h"]
    assert command(["request"], ["--version", "/api/x"], ["--method=GET"]) == [
        "request",
        "--method=GET",
        "--",
        "--version",
        "/api/x",
    ]


@pytest.mark.parametrize("action_id", ["-h", "--help", "--version", "-"])
async def test_the_sandbox_reads_a_flag_like_id_as_an_id(sandbox: Sandbox, action_id: str):
    runner = Runner([sys.executable, "-m", "mautic_mcp.sandbox"], timeout=30, max_concurrency=1)
    with pytest.raises(MembraneError) as raised:
        await Membrane(runner, program="membrane-sandbox").run_action(action_id, "66a1f0c2b7e4d5a6c3b2a100", {})
    assert raised.value.code is ErrorCode.NOT_FOUND, raised.value.message
    assert "usage" not in raised.value.message.lower()


# --- interpreters, strays ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interpreter", "code"),
    [("/nonexistent/node", ErrorCode.NODE_NOT_FOUND), ("/nonexistent/python3 -u", ErrorCode.CLI_NOT_RUNNABLE)],
)
async def test_a_missing_interpreter_is_named(tmp_path: Path, interpreter: str, code: ErrorCode):
    program = tmp_path / "membrane"
    program.write_text(f"#!{interpreter}\nconsole.log('hi')\n")
    program.chmod(0o755)
    membrane = Membrane(Runner([str(program)], timeout=10, max_concurrency=1), program=str(program))
    with pytest.raises(MembraneError) as raised:
        await membrane.version()
    error = raised.value
    assert error.code is code and interpreter.split()[0] in error.what and "interpreter" in error.what
    assert "was not found" in error.what and str(program) in error.what


STRAY = textwrap.dedent(
    """
    import os, sys, time
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if sys.argv[2] == "daemon":
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
        time.sleep(60)
        os._exit(0)
    open(sys.argv[1], "w").write(str(pid))
    print('{"output": "answered"}')
    """
)


@pytest.mark.parametrize("kind", ["pipe", "daemon"])
async def test_a_stray_that_left_the_group_is_ended_and_does_not_stall_the_answer(tmp_path: Path, kind: str):
    marker = tmp_path / "stray"
    runner = Runner([sys.executable, "-c", STRAY, str(marker), kind], timeout=20, max_concurrency=1)
    started = time.monotonic()
    assert await Membrane(runner).run_action("a", "c", {}) == "answered"
    assert time.monotonic() - started < 3
    stray = int(marker.read_text())
    with anyio.fail_after(3):
        while alive(stray):
            await anyio.sleep(0.02)
    assert runner.running == 0


async def test_dead_members_of_a_finished_group_are_reaped(tmp_path: Path):
    """Killed with its group, a CLI's child is re-parented to us (the subreaper): it must not stay a zombie."""
    code = textwrap.dedent(
        """
        import os, subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(os.environ["MARKER"], "w").write(str(child.pid))
        print('{"output": 1}')
        """
    )
    runner = Runner([sys.executable, "-c", code], timeout=20, max_concurrency=1)
    runner.env = {**os.environ, "MARKER": str(tmp_path / "first")}
    assert await Membrane(runner).run_action("a", "c", {}) == 1
    first = int((tmp_path / "first").read_text())
    runner.env["MARKER"] = str(tmp_path / "later")
    with anyio.fail_after(5):
        while os.path.exists(f"/proc/{first}"):
            await Membrane(runner).run_action("a", "c", {})
