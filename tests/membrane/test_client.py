"""Reading the Membrane CLI tolerantly: every plausible output and error shape.

The sandbox produces one shape of each; these cases cover the others the
reference allows, with a scripted CLI that prints exactly what a case gives.
"""

import json
import sys

import pytest

from mautic_mcp.membrane.client import Membrane, MembraneError
from mautic_mcp.membrane.runner import Runner
from tests.membrane.support import scripted


@pytest.mark.parametrize(
    "stdout",
    [
        json.dumps({"items": [{"id": "c1", "state": "READY"}], "cursor": "x"}),
        json.dumps([{"id": "c1", "state": "READY"}]),
        json.dumps({"data": [{"id": "c1", "state": "READY"}]}),
        "Warning: a new version is available\n" + json.dumps({"items": [{"id": "c1", "state": "READY"}]}),
    ],
)
async def test_pages_lists_and_noise(stdout):
    assert await scripted(stdout).list_connections() == [{"id": "c1", "state": "READY"}]


async def test_action_output_is_unwrapped():
    membrane = scripted(json.dumps({"output": {"records": []}, "actionRunId": "r"}))
    assert await membrane.run_action("a", "c", {}) == {"records": []}


ERROR = {"type": "configuration", "key": "not_authenticated", "message": "Not logged in"}


@pytest.mark.parametrize(
    ("stdout", "stderr", "exit_code", "code"),
    [
        ("", json.dumps(ERROR), 1, "not_logged_in"),
        (json.dumps(ERROR), "", 1, "not_logged_in"),
        (json.dumps({"error": ERROR}), "", 1, "not_logged_in"),
        (json.dumps(ERROR), "", 0, "not_logged_in"),
        ("", "Error: You are not logged in. Run membrane login", 1, "not_logged_in"),
        (
            "",
            json.dumps({"type": "connection", "key": "access_token_expired", "message": "expired"}),
            1,
            "reconnect_needed",
        ),
        (
            "",
            json.dumps({"type": "connection", "key": "connection_is_defunct", "message": "gone"}),
            1,
            "connection_defunct",
        ),
        (
            "",
            json.dumps(
                {
                    "type": "bad_request",
                    "key": "rate_limit_exceeded",
                    "message": "slow down",
                    "data": {"retryAfter": 30},
                }
            ),
            1,
            "rate_limited",
        ),
        (
            "",
            json.dumps({"type": "bad_request", "key": "not_found", "message": "Connection abc not found"}),
            1,
            "connection_not_found",
        ),
        ("", "/usr/bin/env: 'node': No such file or directory\n", 127, "node_not_found"),
        ("", "sh: membrane: command not found", 127, "cli_not_found"),
        ("<html>gateway</html>", "", 0, "unreadable_output"),
        ("", "segfault somewhere", 3, "failed"),
    ],
)
async def test_failures_are_classified(stdout, stderr, exit_code, code):
    with pytest.raises(MembraneError) as raised:
        await scripted(stdout, stderr, exit_code).list_connections()
    error = raised.value
    assert error.code == code
    assert error.what and "\n" not in error.message


async def test_fixes_name_the_command():
    with pytest.raises(MembraneError) as raised:
        await scripted("", json.dumps(ERROR), 1).list_connections()
    assert "membrane login --tenant" in raised.value.fix
    reconnect = {"type": "connection", "key": "access_token_expired", "message": "expired"}
    with pytest.raises(MembraneError) as raised:
        await scripted("", json.dumps(reconnect), 1).list_actions("conn-7", "contacts", 5)
    assert "membrane connect --connectionId=conn-7" in raised.value.fix


async def test_mautic_errors_are_read_from_errors_list():
    body = {
        "errors": [{"code": 422, "message": "Validation failed", "details": {"email": ["A valid email is required."]}}]
    }
    error = {
        "type": "bad_request",
        "key": "external_api_error",
        "message": "status 422",
        "data": {"status": 422, "response": body},
    }
    with pytest.raises(MembraneError) as raised:
        await scripted("", json.dumps(error), 1).request("c", "/api/contacts/new", method="POST")
    assert raised.value.code == "api_error"
    assert "A valid email is required." in raised.value.message and "422" in raised.value.message


async def test_old_mautic_error_shape():
    error = {"type": "bad_request", "message": "x", "data": {"status": 404, "response": {"error": "Not found"}}}
    with pytest.raises(MembraneError) as raised:
        await scripted("", json.dumps(error), 1).request("c", "/api/contacts/9", method="GET")
    assert "Not found" in raised.value.message


async def test_request_returns_text_when_not_json():
    assert await scripted("plain body").request("c", "/api/x", method="GET") == "plain body"


async def test_version_line():
    assert await scripted("membrane 1.2.3\n").version() == "membrane 1.2.3"


async def test_an_answer_over_the_byte_cap_says_to_ask_for_less():
    runner = Runner(
        [sys.executable, "-c", "print('[' + '1,' * 600000 + '1]')"],
        timeout=20,
        max_concurrency=1,
        max_stdout_bytes=1024 * 1024,
    )
    with pytest.raises(MembraneError) as raised:
        await Membrane(runner).list_connections()
    assert raised.value.code == "output_too_large" and "Ask for less" in raised.value.fix
