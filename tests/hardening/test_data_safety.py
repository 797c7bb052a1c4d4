"""Writes are never retried: one failed write is one CLI process, and an unknown outcome is said to be unknown.

Each case makes a write fail in a way that tempts a retry (a timeout, a crash, a rate limit, output that
cannot be read), then counts the CLI processes that carried it in the sandbox's log and the records it
left in the database.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.helpers import Served, app_on, make_sandbox, sandbox_cli, served, text, wait_all_gone
from tests.support import Sandbox, action_tools

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="/proc checks")

CONNECTION = "66a1f0c2b7e4d5a6c3b2a100"
UNKNOWN = "unknown whether the change was made"
FAULTS = ["hang", "crash", "garbage", "rate_limited"]
OUTCOME_UNKNOWN = {"hang": True, "crash": True, "garbage": True, "rate_limited": False}
serial = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[Served]:
    box = make_sandbox(tmp_path_factory.mktemp("data-safety"), seeded_db)
    with served(app_on(box, timeout=1), box) as running:
        yield running


@pytest.fixture
def box(server: Served) -> Iterator[Sandbox]:
    yield server.box
    server.box.clear()


def runs_carrying(box: Sandbox, marker: str, command: list[str]) -> list[dict[str, Any]]:
    """The CLI processes whose argv starts with `command` and mentions `marker`, one entry per process."""
    by_pid: dict[int, dict[str, Any]] = {}
    for entry in box.invocations():
        argv = entry["argv"]
        if argv[: len(command)] == command and any(marker in part for part in argv):
            by_pid.setdefault(entry["pid"], entry)
    return list(by_pid.values())


def contacts_with(box: Sandbox, email: str) -> int:
    done = sandbox_cli(box, "request", CONNECTION, "/api/contacts", f"--query=search=email:{email}")
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["total"])


def check_message(message: str, fault: str, read_advice: str) -> None:
    if OUTCOME_UNKNOWN[fault]:
        assert UNKNOWN in message and read_advice in message, message
        assert "could be made twice" in message
    else:
        assert UNKNOWN not in message and "The change was not made" in message, message


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_create_contact_runs_once_and_says_what_is_known(server: Served, box: Sandbox, fault: str):
    email = f"once-{next(serial)}@example.org"
    box.set(fault=fault, fault_on="action run")
    result = server.call("create_contact", {"email": email, "firstname": "Once"})
    message = text(result)
    assert result.is_error, message
    check_message(message, fault, "check with a read")
    runs = runs_carrying(box, email, ["action", "run"])
    assert len(runs) == 1, f"{len(runs)} CLI processes ran one create_contact call: {runs}"
    wait_all_gone(runs)
    box.clear()
    assert contacts_with(box, email) <= 1
    assert len(runs_carrying(box, email, ["action", "run"])) == 1, "nothing ran the write again later"


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_proxy_post_runs_once_and_says_what_is_known(server: Served, box: Sandbox, fault: str):
    email = f"proxy-once-{next(serial)}@example.org"
    box.set(fault=fault, fault_on="request")
    result = server.call("proxy_request", {"method": "POST", "path": "/api/contacts/new", "body": {"email": email}})
    message = text(result)
    if fault == "garbage":
        # `membrane request` prints the API's body as is: a body that is not JSON is an answer, not a failure.
        assert not result.is_error and "502 Bad Gateway" in message
    elif fault == "rate_limited":
        assert result.is_error and UNKNOWN not in message and "Wait 30 seconds" in message, message
    else:
        assert result.is_error, message
        check_message(message, fault, "check with a GET")
    runs = runs_carrying(box, email, ["request"])
    assert len(runs) == 1, f"{len(runs)} CLI processes ran one POST: {runs}"
    wait_all_gone(runs)
    box.clear()
    assert contacts_with(box, email) <= 1


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("update_contact", {"id": 3, "firstname": "Retry"}),
        ("delete_contact", {"id": 4}),
        ("add_contact_to_segment", {"segmentId": 1, "contactId": 5}),
        ("send_email_to_contact", {"emailId": 1, "contactId": 6}),
        ("create_note", {"contactId": 7, "text": "written once"}),
    ],
)
def test_every_kind_of_write_is_tried_once(server: Served, box: Sandbox, name: str, arguments: dict[str, Any]):
    action_id = action_tools(server.app)[name].action_id
    before = len(runs_carrying(box, action_id, ["action", "run", action_id]))
    box.set(fault="crash", fault_on="action run")
    message = text(server.call(name, arguments))
    assert UNKNOWN in message and "check with a read" in message, message
    after = runs_carrying(box, action_id, ["action", "run", action_id])
    assert len(after) == before + 1


def test_reads_are_not_retried_either(server: Served, box: Sandbox):
    box.set(fault="crash", fault_on="action run")
    action_id = action_tools(server.app)["get_contact"].action_id
    before = len(runs_carrying(box, action_id, ["action", "run", action_id]))
    message = text(server.call("get_contact", {"id": 1}))
    assert "SIGKILL" in message and UNKNOWN not in message, "a read changes nothing, so nothing is unknown"
    assert len(runs_carrying(box, action_id, ["action", "run", action_id])) == before + 1


def test_a_write_that_did_go_through_is_reported_once(server: Served, box: Sandbox):
    """The success path too: one process, one record, and the record is the one answered."""
    email = f"ok-{next(serial)}@example.org"
    result = server.call("create_contact", {"email": email})
    assert not result.is_error, text(result)
    assert json.loads(text(result))["email"] == email
    assert len(runs_carrying(box, email, ["action", "run"])) == 1
    assert contacts_with(box, email) == 1
