"""Contacts' memberships in the emulated Mautic: adding a contact to (or removing it from) a segment,
campaign, company or stage, sending it an email, and listing what a contact belongs to.
"""

from __future__ import annotations

import os

from mautic_mcp.sandbox import history
from mautic_mcp.sandbox.rendering import Renderer
from mautic_mcp.sandbox.responses import error
from mautic_mcp.sandbox.values import now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.entities import Entity
    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store

# entity -> the verbs `POST /api/<entity>/{id}/contact/{cid}/<verb>` accepts
VERBS = {
    "segments": ("add", "remove"),
    "campaigns": ("add", "remove"),
    "companies": ("add", "remove"),
    "stages": ("add", "remove"),
    "emails": ("send",),
}


def relate(store: Store, entity: Entity, record_id: int, contact_id: int, op: str) -> Response:
    """`POST /api/<entity>/{id}/contact/{cid}/<add|remove|send>`."""
    if op not in VERBS.get(entity.name, ()):
        return error(404, f"Requested URL not found: /api/{entity.name}/{record_id}/contact/{contact_id}/{op}")
    target = store.get(entity.name, record_id)
    contact = store.get("contacts", contact_id)
    if target is None or contact is None:
        return error(404)
    return RELATE[entity.name](store, target, contact, op)


def _segment(store: Store, segment: dict[str, Any], contact: dict[str, Any], op: str) -> Response:
    """Membership changes are logged only when they change something, as Mautic's list events are."""
    if op == "add":
        changed = store.conn.execute(
            "INSERT OR IGNORE INTO segment_contacts VALUES (?, ?, ?)", (segment["id"], contact["id"], now())
        ).rowcount
    else:
        changed = store.conn.execute(
            "DELETE FROM segment_contacts WHERE segment_id = ? AND contact_id = ?", (segment["id"], contact["id"])
        ).rowcount
    if changed:
        history.membership(store, contact["id"], "segments", segment, "added" if op == "add" else "removed")
    return 200, {"success": 1}


def _campaign(store: Store, campaign: dict[str, Any], contact: dict[str, Any], op: str) -> Response:
    """Mautic keeps a removed member's row (`manually_removed`); adding it back starts a new rotation, and a
    current member is only restarted when the campaign allows restarts."""
    key = (campaign["id"], contact["id"])
    row = store.conn.execute(
        "SELECT manually_removed FROM campaign_contacts WHERE campaign_id = ? AND contact_id = ?", key
    ).fetchone()
    if op == "add":
        if row is None:
            store.conn.execute(
                "INSERT INTO campaign_contacts (campaign_id, contact_id, date_added) VALUES (?, ?, ?)", (*key, now())
            )
        elif row[0] or campaign.get("allowRestart"):
            store.conn.execute(
                "UPDATE campaign_contacts SET manually_removed = 0, manually_added = max(manually_added, ?),"
                " date_last_exited = NULL, rotation = rotation + 1 WHERE campaign_id = ? AND contact_id = ?",
                (row[0], *key),
            )
        else:
            return 200, {"success": 1}
        history.membership(store, contact["id"], "campaigns", campaign, "added")
    elif row is not None and not row[0]:
        store.conn.execute(
            "UPDATE campaign_contacts SET manually_removed = 1, manually_added = 0 WHERE campaign_id = ?"
            " AND contact_id = ?",
            key,
        )
        history.membership(store, contact["id"], "campaigns", campaign, "removed")
    return 200, {"success": 1}


def _company(store: Store, company: dict[str, Any], contact: dict[str, Any], op: str) -> Response:
    """The company becomes (or stops being) the contact's `company` field too."""
    conn = store.conn
    if op == "add":
        conn.execute(
            "INSERT OR IGNORE INTO company_contacts VALUES (?, ?, ?, 1)", (company["id"], contact["id"], now())
        )
    else:
        conn.execute(
            "DELETE FROM company_contacts WHERE company_id = ? AND contact_id = ?", (company["id"], contact["id"])
        )
    name = company.get("companyname")
    if op == "add":
        contact["company"] = name
    elif contact.get("company") == name:
        contact["company"] = ""
    store.update("contacts", contact["id"], contact)
    return 200, {"success": 1}


def _stage(store: Store, stage: dict[str, Any], contact: dict[str, Any], op: str) -> Response:
    """Moving a contact by hand is logged as `Manually Added` or `Manually Removed`, as Mautic does."""
    if op == "add":
        contact["stage"] = stage["id"]
        history.stage_changed(store, contact["id"], stage, "Manually Added")
    elif contact.get("stage") == stage["id"]:
        contact["stage"] = None
        history.stage_changed(store, contact["id"], stage, "Manually Removed")
    contact["dateModified"] = now()
    store.update("contacts", contact["id"], contact)
    return 200, {"success": 1}


def _send(store: Store, email: dict[str, Any], contact: dict[str, Any], op: str) -> Response:
    """A send is an unread `email_stats` row and one more `sentCount`, so the two always agree."""
    if not email.get("isPublished", True):
        return error(400, "The email is not published and cannot be sent.")
    store.conn.execute(
        "INSERT INTO email_sends (email_id, contact_id, date_sent, tracking_hash) VALUES (?, ?, ?, ?)",
        (email["id"], contact["id"], now(), os.urandom(7).hex()[:13]),
    )
    email["sentCount"] = int(email.get("sentCount") or 0) + 1
    store.update("emails", email["id"], email)
    return 200, {"success": 1}


# entity -> what `relate` does for it
RELATE: dict[str, Callable[[Store, dict[str, Any], dict[str, Any], str], Response]] = {
    "segments": _segment,
    "campaigns": _campaign,
    "companies": _company,
    "stages": _stage,
    "emails": _send,
}


def contact_related(store: Store, contact_id: int, what: str) -> Response:
    """`GET /api/contacts/{id}/<notes|segments|campaigns|companies>`."""
    if store.get("contacts", contact_id) is None:
        return error(404)
    return CONTACT_RELATED[what](store, contact_id)


def _notes(store: Store, contact_id: int) -> Response:
    renderer = Renderer(store)
    rows = store.all("notes", "json_extract(data, '$.lead') = ?", (contact_id,))
    notes = [renderer.render("notes", r) for r in rows]
    return 200, {"total": len(notes), "notes": notes}


def _segments(store: Store, contact_id: int) -> Response:
    segments = Renderer(store).segments()
    rows = store.conn.execute(
        "SELECT segment_id, date_added FROM segment_contacts WHERE contact_id = ? ORDER BY segment_id",
        (contact_id,),
    ).fetchall()
    lists = {
        str(sid): {"id": sid, "name": segments[sid]["name"], "alias": segments[sid]["alias"], "dateAdded": added}
        for sid, added in rows
        if sid in segments
    }
    return 200, {"total": len(lists), "lists": lists or []}


def _campaigns(store: Store, contact_id: int) -> Response:
    rows = store.conn.execute(
        "SELECT campaign_id, date_added, manually_added FROM campaign_contacts WHERE contact_id = ?"
        " AND manually_removed = 0 ORDER BY campaign_id",
        (contact_id,),
    ).fetchall()
    campaigns = {}
    for cid, added, manually_added in rows:
        campaign = store.get("campaigns", cid)
        if campaign:
            campaigns[str(cid)] = {
                "id": cid,
                "name": campaign.get("name"),
                "dateAdded": added,
                "manuallyRemoved": False,
                "manuallyAdded": bool(manually_added),
            }
    return 200, {"total": len(campaigns), "campaigns": campaigns or []}


def _companies(store: Store, contact_id: int) -> Response:
    rows = store.conn.execute(
        "SELECT company_id, date_added, is_primary FROM company_contacts WHERE contact_id = ? ORDER BY company_id",
        (contact_id,),
    ).fetchall()
    companies = []
    for cid, added, primary in rows:
        company = store.get("companies", cid)
        if company:
            companies.append(
                {
                    "id": cid,
                    "company_id": cid,
                    "companyname": company.get("companyname"),
                    "companycity": company.get("companycity"),
                    "date_associated": added,
                    "is_primary": primary,
                }
            )
    return 200, {"total": len(companies), "companies": companies}


CONTACT_RELATED: dict[str, Callable[[Store, int], Response]] = {
    "notes": _notes,
    "segments": _segments,
    "campaigns": _campaigns,
    "companies": _companies,
}
