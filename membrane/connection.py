"""Finding the one Mautic connection to use, or saying exactly why there is none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import (
    FIND_CONNECTOR_COMMAND,
    LIST_CONNECTIONS_COMMAND,
    ErrorCode,
    MembraneError,
    reconnect_command,
)
from mautic_mcp.membrane.output import quote

READY = "READY"


def is_mautic(connection: Mapping[str, Any]) -> bool:
    integration = _mapping(connection.get("integration"))
    names = (
        connection.get("integrationKey"),
        connection.get("connectorKey"),
        connection.get("key"),
        connection.get("name"),
        integration.get("key"),
        integration.get("name"),
    )
    return any("mautic" in str(name).lower() for name in names if name)


def is_ready(connection: Mapping[str, Any]) -> bool:
    return (
        str(connection.get("state") or READY).upper() == READY
        and not connection.get("isDefunct")
        and not connection.get("disconnected")
    )


def describe(connection: Mapping[str, Any]) -> str:
    """The connection as a message names it: what the CLI printed, quoted short and on one line."""
    name = quote(str(connection.get("name") or connection.get("key") or "unnamed"), 80)
    state = quote(str(connection.get("state") or "unknown state"), 40)
    return f"{quote(str(connection.get('id')), 80)} ({name}, {state})"


async def resolve_connection(membrane: Membrane, configured: str | None) -> str:
    """The connection id to use; raises MembraneError with the fixing command otherwise."""
    connections = await membrane.list_connections()
    if configured:
        chosen = next((c for c in connections if configured in (c.get("id"), c.get("key"))), None)
        if chosen is None:
            return configured
        check_usable(chosen)
        return str(chosen["id"])
    return str(choose(connections)["id"])


def choose(connections: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    mautic = [c for c in connections if is_mautic(c) and c.get("id")]
    if not mautic:
        raise MembraneError(
            ErrorCode.NO_CONNECTION,
            "There is no Mautic connection in Membrane.",
            f"Create one: find the Mautic connector with `{FIND_CONNECTOR_COMMAND}`, then run "
            "`membrane connect --connectorId=<connector id>` and finish the authorization in the browser.",
        )
    ready = [c for c in mautic if is_ready(c)]
    if len(ready) == 1:
        return ready[0]
    if len(ready) > 1:
        listed = "; ".join(describe(c) for c in ready)
        raise MembraneError(
            ErrorCode.SEVERAL_CONNECTIONS,
            f"There are {len(ready)} ready Mautic connections: {listed}.",
            "Pick one with --connection-id=<id> (or MAUTIC_MCP_CONNECTION_ID) in the server's settings.",
        )
    raise unusable(mautic[0])


def check_usable(connection: Mapping[str, Any]) -> None:
    if not is_ready(connection):
        raise unusable(connection)


def unusable(connection: Mapping[str, Any]) -> MembraneError:
    """Why a Mautic connection that is not ready cannot be used, and the command that fixes it.

    The connection's state is structured and read before any call is sent, so nothing was made.
    """
    connection_id = str(connection.get("id"))
    state = str(connection.get("state") or "").upper()
    error = connection.get("error")
    reason = error.get("message") if isinstance(error, dict) else error
    said = f" ({quote(str(reason))})" if reason else ""
    if connection.get("isDefunct") or state in {"CONFIGURATION_ERROR", "SETUP_FAILED"}:
        return MembraneError(
            ErrorCode.CONNECTION_DEFUNCT,
            f"The Mautic connection {describe(connection)} is broken{said}.",
            f"Reconnect it with `{reconnect_command(connection_id)}`, or create a new one with "
            f"`{FIND_CONNECTOR_COMMAND}` and `membrane connect --connectorId=<id>`.",
            not_made=True,
        )
    if state == "BUILDING":
        return MembraneError(
            ErrorCode.CONNECTION_BUILDING,
            f"The Mautic connection {describe(connection)} is still being set up.",
            f"Wait a moment, then check it with `{LIST_CONNECTIONS_COMMAND}`.",
            not_made=True,
        )
    action = _mapping(connection.get("clientAction"))
    link = f" (or open {quote(str(action['uiUrl']), 300)})" if action.get("uiUrl") else ""
    return MembraneError(
        ErrorCode.RECONNECT_NEEDED,
        f"The Mautic connection {describe(connection)} needs to be re-authorized{said}.",
        f"Run `{reconnect_command(connection_id)}`{link} and finish the authorization in the browser.",
        not_made=True,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
