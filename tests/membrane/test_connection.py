"""Choosing the one Mautic connection, or saying exactly why there is none and what fixes it."""

from __future__ import annotations

from typing import Any

import pytest

from mautic_mcp.membrane.connection import check_usable, choose, is_mautic, is_ready
from mautic_mcp.membrane.errors import ErrorCode, MembraneError


def conn(id: str, state: str = "READY", **extra: Any) -> dict[str, Any]:
    return {"id": id, "name": "Mautic", "integration": {"key": "mautic"}, "state": state, **extra}


def refused(connections: list[dict[str, Any]]) -> MembraneError:
    with pytest.raises(MembraneError) as raised:
        choose(connections)
    return raised.value


@pytest.mark.parametrize(
    "connection",
    [
        {"integrationKey": "mautic"},
        {"connectorKey": "Mautic-v5"},
        {"key": "my-mautic"},
        {"name": "Marketing (Mautic)"},
        {"integration": {"key": "mautic"}},
        {"integration": {"name": "MAUTIC"}},
    ],
)
def test_mautic_is_recognised_by_any_naming_field(connection: dict[str, Any]):
    assert is_mautic(connection)


def test_other_integrations_and_odd_fields_are_not_mautic():
    assert not is_mautic({"integration": {"key": "hubspot"}, "name": "CRM"})
    assert not is_mautic({"integration": "mautic-but-a-string", "name": None})


def test_a_state_missing_counts_as_ready_but_defunct_or_disconnected_does_not():
    assert is_ready({"id": "a"})
    assert not is_ready({"id": "a", "state": "READY", "isDefunct": True})
    assert not is_ready({"id": "a", "state": "ready", "disconnected": True})
    assert not is_ready({"id": "a", "state": "CLIENT_ACTION_REQUIRED"})


def test_the_one_ready_mautic_connection_is_chosen_among_others():
    hubspot = {"id": "h", "integration": {"key": "hubspot"}, "state": "READY"}
    broken = conn("b", "CLIENT_ACTION_REQUIRED")
    assert choose([hubspot, broken, conn("m"), {"name": "Mautic without id"}])["id"] == "m"


def test_no_mautic_connection_names_the_search_and_connect_commands():
    error = refused([{"id": "h", "integration": {"key": "hubspot"}}])
    assert error.code is ErrorCode.NO_CONNECTION
    assert "membrane search mautic" in error.fix and "membrane connect --connectorId=" in error.fix


def test_several_ready_connections_are_listed_and_the_setting_named():
    error = refused([conn("one"), conn("two")])
    assert error.code is ErrorCode.SEVERAL_CONNECTIONS
    assert "one" in error.what and "two" in error.what
    assert "--connection-id" in error.fix and "MAUTIC_MCP_CONNECTION_ID" in error.fix


@pytest.mark.parametrize(
    ("connection", "code", "in_fix"),
    [
        (conn("x", "CLIENT_ACTION_REQUIRED"), ErrorCode.RECONNECT_NEEDED, "membrane connect --connectionId=x"),
        (conn("x", "READY", isDefunct=True), ErrorCode.CONNECTION_DEFUNCT, "membrane connect --connectionId=x"),
        (conn("x", "SETUP_FAILED"), ErrorCode.CONNECTION_DEFUNCT, "membrane search mautic"),
        (conn("x", "BUILDING"), ErrorCode.CONNECTION_BUILDING, "membrane connection list"),
    ],
)
def test_a_connection_that_is_not_ready_says_why_and_what_fixes_it(
    connection: dict[str, Any], code: ErrorCode, in_fix: str
):
    error = refused([connection])
    assert error.code is code and in_fix in error.fix
    with pytest.raises(MembraneError) as again:
        check_usable(connection)
    assert again.value.code is code


def test_the_reauthorization_link_and_reason_are_passed_on():
    connection = conn(
        "x", "CLIENT_ACTION_REQUIRED", error={"message": "token expired"}, clientAction={"uiUrl": "https://ui/x"}
    )
    error = refused([connection])
    assert "token expired" in error.what and "https://ui/x" in error.fix


def test_a_ready_connection_passes_the_check():
    check_usable(conn("x"))
