"""The sandbox's Membrane workspace: its one Mautic connector, integration and connection.

Ids and timestamps are fixed so that every run, and every test, sees the same objects. The connection's
state follows the `state` knob; nothing here is stored.
"""

from __future__ import annotations

from mautic_mcp.sandbox.errors import CliError, not_found

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

WORKSPACE = {"key": "sandbox", "name": "Mautic sandbox"}
USER = {"email": "sandbox@example.com"}
API_URI = "sandbox://local"
CONNECTION_ID = "66a1f0c2b7e4d5a6c3b2a100"
NEW_CONNECTION_ID = "66a1f0c2b7e4d5a6c3b2a1ff"
CONNECTOR_ID = "66a1f0c2b7e4d5a6c3b2a001"
INTEGRATION_ID = "66a1f0c2b7e4d5a6c3b2a002"
CREATED_AT = "2024-05-24T09:30:00.000Z"
UPDATED_AT = "2024-06-02T14:05:00.000Z"
LOGO_URI = "https://static.sandbox.invalid/logos/mautic.png"
UI_BASE = "https://sandbox.invalid"


def integration() -> dict[str, Any]:
    return {"id": INTEGRATION_ID, "key": "mautic", "name": "Mautic", "logoUri": LOGO_URI}


def connector() -> dict[str, Any]:
    return {"id": CONNECTOR_ID, "key": "mautic", "name": "Mautic", "logoUri": LOGO_URI}


def connection(state: str, connection_id: str = CONNECTION_ID) -> dict[str, Any]:
    """The Mautic connection as `connection list` shows it in the given state."""
    out: dict[str, Any] = {
        "id": connection_id,
        "name": "Mautic",
        "key": "mautic",
        "integrationKey": "mautic",
        "state": "READY",
        "disconnected": False,
        "isDefunct": False,
        "integrationId": INTEGRATION_ID,
        "connectorId": CONNECTOR_ID,
        "integration": integration(),
        "createdAt": CREATED_AT,
        "updatedAt": UPDATED_AT,
    }
    if state == "needs_reconnect":
        out["state"] = "CLIENT_ACTION_REQUIRED"
        out["clientAction"] = {
            "type": "connect",
            "description": "Reconnect Mautic: the access token expired",
            "uiUrl": f"{UI_BASE}/connect/{connection_id}",
            "agentInstructions": f"Ask the user to open the link, or run `membrane connect "
            f"--connectionId={connection_id}`, then retry.",
        }
    elif state == "defunct":
        out["state"] = "CONFIGURATION_ERROR"
        out["isDefunct"] = True
        out["error"] = {"message": "The Mautic instance rejected the credentials"}
    return out


def connections(state: str) -> list[dict[str, Any]]:
    return [] if state == "no_connection" else [connection(state)]


def find_connection(state: str, connection_id: str | None, connection_key: str | None = None) -> dict[str, Any]:
    """The connection named by id or key, or a not_found error (always, when there is no connection)."""
    for item in connections(state):
        if (connection_id and connection_id in (item["id"], item["key"])) or (
            not connection_id and connection_key == item["key"]
        ):
            return item
    return_what = connection_id or connection_key
    raise not_found(f"Connection {return_what} not found")


def usable_connection(state: str, connection_id: str | None, connection_key: str | None = None) -> dict[str, Any]:
    """The connection, if actions and requests can run through it now; otherwise the error Membrane gives."""
    if not connection_id and not connection_key:
        raise CliError(
            "bad_request",
            "invalid_input",
            "No connection given. Pass --connectionId=<id> (see `membrane connection list`).",
        )
    item = find_connection(state, connection_id, connection_key)
    if state == "needs_reconnect":
        raise CliError(
            "connection",
            "access_token_expired",
            f"The access token for connection {item['id']} expired and could not be refreshed. "
            f"Run `membrane connect --connectionId={item['id']}` to reconnect.",
            {"connectionId": item["id"], "clientAction": item["clientAction"]},
        )
    if state == "defunct":
        raise CliError(
            "connection",
            "connection_is_defunct",
            f"Connection {item['id']} is defunct: The Mautic instance rejected the credentials. "
            f"Create a new connection with `membrane connect --connectorId={CONNECTOR_ID}`.",
            {"connectionId": item["id"]},
        )
    return item
