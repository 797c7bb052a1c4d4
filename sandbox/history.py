"""The change logs Mautic keeps for each contact, written where the change happens: `lead_event_log` (segment
and campaign membership, how the contact came to be), `lead_stages_change_log` and `lead_points_change_log`.
A contact's timeline (`/api/contacts/{id}/activity`) and `/api/stats/<table>` read them back, so what a caller
changes shows up there as it would in Mautic.
"""

from __future__ import annotations

from mautic_mcp.sandbox.entities import USER_ID, USER_NAME
from mautic_mcp.sandbox.values import now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.store import Store

LOG_TABLES = ("lead_event_log", "lead_stages_change_log", "lead_points_change_log")


def log_event(
    store: Store,
    contact_id: int,
    where: tuple[str, str, str],
    object_id: int | None,
    properties: dict[str, Any],
    stamp: str | None = None,
) -> None:
    """One `lead_event_log` row; `where` is Mautic's (bundle, object, action)."""
    from mautic_mcp.sandbox.store import dumps

    store.conn.execute(
        "INSERT INTO lead_event_log (lead_id, user_id, user_name, bundle, object, action, object_id, date_added,"
        " properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (contact_id, USER_ID, USER_NAME, *where, object_id, stamp or now(), dumps(properties)),
    )


def membership(
    store: Store, contact_id: int, entity: str, record: dict[str, Any], action: str, stamp: str | None = None
) -> None:
    """A contact `added` to or `removed` from a segment or campaign, with the properties Mautic stores."""
    name = record.get("name")
    if entity == "segments":
        log_event(store, contact_id, ("lead", "segment", action), record["id"], {"object_description": name}, stamp)
    else:
        properties = {"campaign_id": record["id"], "campaign_name": name, "object_description": name}
        log_event(store, contact_id, ("campaign", "campaign", action), record["id"], properties, stamp)


def identified(store: Store, contact_id: int, batch: bool, stamp: str | None = None) -> None:
    """A contact created through the API with an email: Mautic logs `identified_contact` by the API user."""
    where = ("lead", "api-batch" if batch else "api-single", "identified_contact")
    log_event(store, contact_id, where, None, {"object_description": USER_NAME}, stamp)


def stage_changed(
    store: Store, contact_id: int, stage: dict[str, Any], action_name: str, stamp: str | None = None
) -> None:
    """A contact moved into (`Manually Added`) or out of (`Manually Removed`) a stage."""
    store.conn.execute(
        "INSERT INTO lead_stages_change_log (lead_id, stage_id, event_name, action_name, date_added)"
        " VALUES (?, ?, ?, ?, ?)",
        (contact_id, stage["id"], f"{stage['id']}: {stage.get('name')}", action_name, stamp or now()),
    )


def forget(store: Store, contact_id: int) -> None:
    """A deleted contact's logs go with it, as Mautic's cascades take them."""
    for table in LOG_TABLES:
        store.conn.execute(f"DELETE FROM {table} WHERE lead_id = ?", (contact_id,))
