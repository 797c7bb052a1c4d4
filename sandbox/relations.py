"""Contacts' memberships in the emulated Mautic: adding a contact to (or removing it from) a segment,
campaign, company or stage, sending it an email, and listing what a contact belongs to.
"""

from __future__ import annotations

from mautic_mcp.sandbox.entities import RELATIONS
from mautic_mcp.sandbox.rendering import Renderer
from mautic_mcp.sandbox.responses import error
from mautic_mcp.sandbox.values import now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

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
    conn = store.conn
    stamp = now()
    if entity.name in RELATIONS:
        table, column = RELATIONS[entity.name]
        if op == "add":
            extra = ", 1" if entity.name == "companies" else ""
            conn.execute(f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?{extra})", (record_id, contact_id, stamp))
        else:
            conn.execute(f"DELETE FROM {table} WHERE {column} = ? AND contact_id = ?", (record_id, contact_id))
        if entity.name == "companies":
            name = target.get("companyname")
            if op == "add":
                contact["company"] = name
            elif contact.get("company") == name:
                contact["company"] = ""
            store.update("contacts", contact_id, contact)
    elif entity.name == "stages":
        if op == "add":
            contact["stage"] = record_id
        elif contact.get("stage") == record_id:
            contact["stage"] = None
        contact["dateModified"] = stamp
        store.update("contacts", contact_id, contact)
    else:
        if not target.get("isPublished", True):
            return error(400, "The email is not published and cannot be sent.")
        conn.execute(
            "INSERT INTO email_sends (email_id, contact_id, date_sent) VALUES (?, ?, ?)",
            (record_id, contact_id, stamp),
        )
        target["sentCount"] = int(target.get("sentCount") or 0) + 1
        store.update("emails", record_id, target)
    return 200, {"success": 1}


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
        "SELECT campaign_id, date_added FROM campaign_contacts WHERE contact_id = ? ORDER BY campaign_id",
        (contact_id,),
    ).fetchall()
    campaigns = {}
    for cid, added in rows:
        campaign = store.get("campaigns", cid)
        if campaign:
            campaigns[str(cid)] = {
                "id": cid,
                "name": campaign.get("name"),
                "dateAdded": added,
                "manuallyRemoved": False,
                "manuallyAdded": True,
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
