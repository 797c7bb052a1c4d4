"""A contact's timeline, `GET /api/contacts/{id}/activity` (and every contact's, `GET /api/contacts/activity`),
built from what the store knows the way Mautic's timeline subscribers build it: `lead_event_log` (how the
contact was identified, segment and campaign membership), email sends and reads, stage and points changes.

Mautic pages each event type on its own (`page` and `limit` apply per type, `total` adds up every type and
`maxPages` follows the largest), then merges and sorts the page; this does the same. Events have the API's
shape: `event`, `eventId`, `eventLabel`, `eventType`, `timestamp`, `contactId`, `details` (snake_case keys
of `details` turned to camelCase, `lead_id` left out). Mautic's timeline has no event type for notes.
"""

from __future__ import annotations

from mautic_mcp.sandbox.responses import error
from mautic_mcp.sandbox.values import as_list, to_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store

    # (what `filters[search]` is matched against, the event)
    Found = list[tuple[str, dict[str, Any]]]

SITE = "https://mautic.sandbox.invalid"
# Every event type a stock Mautic registers for the API timeline, with its English name, in the order the API
# lists them (by name, case aside).
TYPES = {
    "asset.download": "Asset downloaded",
    "campaign.event": "Campaign action triggered",
    "campaign.event.scheduled": "Campaign event scheduled",
    "campaign_membership": "Campaign membership change",
    "lead.source.created": "Contact created by source",
    "lead.source.identified": "Contact identified by source",
    "lead.donotcontact": "Do not contact",
    "email.failed": "Email failed",
    "email.read": "Email read",
    "email.replied": "Email replied",
    "email.sent": "Email sent",
    "form.submitted": "Form submitted",
    "lead.imported": "Imported",
    "page.hit": "Page hit",
    "point.gained": "Point gained",
    "segment_membership": "Segment membership change",
    "stage.changed": "Stage changed",
    "lead.utmtagsadded": "UTM tags recorded",
    "page.videohit": "Video view event",
}
# the labels of `lead_event_log` rows, by event type and action, as Mautic's translations word them
LOG_LABELS = {
    ("segment_membership", "added"): "Contact added to segment, {name}",
    ("segment_membership", "removed"): "Contact removed from segment, {name}",
    ("campaign_membership", "added"): "Contact added to campaign, {name}",
    ("campaign_membership", "removed"): "Contact removed from campaign, {name}",
    ("lead.source.created", "created_contact"): "Contact was created by {name}",
    ("lead.source.identified", "identified_contact"): "Contact was identified by {name}",
}


def activity(store: Store, contact_id: int | None, query: dict[str, Any]) -> Response:
    """The timeline of one contact, or of all of them when `contact_id` is None."""
    if contact_id is not None and store.get("contacts", contact_id) is None:
        return error(404)
    filters = _filters(query)
    if filters is None:
        return error(400, "filters must be an object with search, includeEvents and excludeEvents.")
    order = _order(query)
    limit, page = to_int(query.get("limit"), 25), to_int(query.get("page"), 1)
    start = (page - 1) * limit if page > 1 and limit > 0 else 0
    search = str(filters["search"]).lower()
    include, exclude = filters["includeEvents"], filters["excludeEvents"]
    low, high = _date(filters.get("dateFrom")), _date(filters.get("dateTo"), end=True)
    key = _label if order[0] == "eventLabel" else _timestamp
    descending = order[1] == "DESC"
    events: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for kind, source in SOURCES.items():
        if kind in exclude or (include and kind not in include):
            continue
        found = [
            event
            for text, event in source(store, contact_id)
            if search in text.lower() and low <= event["timestamp"] <= high
        ]
        totals[kind] = len(found)
        if descending:
            found.reverse()  # the stable sort then puts the later of two equal rows first, as Mautic's id order does
        found.sort(key=key, reverse=descending)
        events.extend(found[start : start + limit] if limit > 0 else found)
    events.sort(key=key, reverse=descending)
    largest = max(totals.values(), default=0)
    return 200, {
        "events": events,
        "filters": filters,
        "order": order,
        "types": dict(TYPES),
        "total": sum(totals.values()),
        "page": page,
        "limit": limit,
        "maxPages": -(-largest // limit) if largest and limit > 0 else 1,
    }


def _filters(query: dict[str, Any]) -> dict[str, Any] | None:
    """`filters[search]`, `filters[includeEvents][]`, … (or the same names bare, or `filters` as JSON text)."""
    given = query.get("filters", {})
    if isinstance(given, str):
        import json

        try:
            given = json.loads(given) if given.strip() else {}
        except ValueError:
            return None
    if not isinstance(given, dict):
        return None
    out: dict[str, Any] = {
        "search": str(given.get("search", query.get("search")) or ""),
        "includeEvents": [str(k) for k in as_list(given.get("includeEvents", query.get("includeEvents")))],
        "excludeEvents": [str(k) for k in as_list(given.get("excludeEvents", query.get("excludeEvents")))],
    }
    for name in ("dateFrom", "dateTo"):
        if given.get(name, query.get(name)):
            out[name] = str(given.get(name, query.get(name)))
    return out


def _order(query: dict[str, Any]) -> list[str]:
    """`order[0]=timestamp&order[1]=DESC` (Mautic's default), or `orderBy`/`orderByDir`."""
    given = as_list(query.get("order")) or [query.get("orderBy") or "timestamp", query.get("orderByDir") or "DESC"]
    column = str(given[0]) if given[0] else "timestamp"
    direction = str(given[1]).upper() if len(given) > 1 else "ASC"
    return [column, "DESC" if direction == "DESC" else "ASC"]


def _date(text: Any, end: bool = False) -> str:
    """A `Y-m-d H:i:s` filter date as a bound comparable with stored ISO timestamps; open when not given."""
    if not text:
        return "\uffff" if end else ""
    stamp = str(text).strip().replace(" ", "T")
    return stamp + ("T23:59:59" if len(stamp) == 10 and end else "") + ("\uffff" if end else "")


def _timestamp(event: dict[str, Any]) -> str:
    return str(event["timestamp"])


def _label(event: dict[str, Any]) -> str:
    label = event.get("eventLabel") or ""
    return str(label.get("label") if isinstance(label, dict) else label)


def _camel(details: Any) -> Any:
    """Mautic's `prepareDetailsForAPI`: snake_case keys become camelCase, `lead_id` goes (it is `contactId`)."""
    if isinstance(details, list):
        return [_camel(d) for d in details]
    if not isinstance(details, dict):
        return details
    out = {}
    for key, value in details.items():
        if key == "lead_id":
            continue
        head, *rest = str(key).split("_")
        out[head + "".join(part[:1].upper() + part[1:] for part in rest)] = _camel(value)
    return out


def _text(value: Any) -> str | None:
    """A database value as Mautic's DBAL rows carry it: text, or null."""
    return None if value is None else str(value)


def _rows(
    store: Store, select: str, contact_id: int | None, where: str = "", column: str = "lead_id", order: str = "id"
) -> list[tuple[Any, ...]]:
    """`SELECT <select> WHERE <column> = contact_id AND <where> ORDER BY <order>`: `select` is the columns and
    the FROM; no contact condition when `contact_id` is None (every contact's rows), none for an empty `where`."""
    conditions = ([f"{column} = ?"] if contact_id is not None else []) + ([where] if where else [])
    sql = f"SELECT {select}" + (" WHERE " + " AND ".join(conditions) if conditions else "") + f" ORDER BY {order}"
    return store.conn.execute(sql, (contact_id,) if contact_id is not None else ()).fetchall()


def _event(kind: str, row_id: Any, label: Any, stamp: Any, contact_id: Any, details: Any) -> dict[str, Any]:
    """A timeline event in the API's shape; `eventId` is the type followed by the row's id."""
    return {
        "event": kind,
        "eventId": f"{kind}{row_id}",
        "eventLabel": label,
        "eventType": TYPES[kind],
        "timestamp": stamp,
        "contactId": str(contact_id),
        "details": details,
    }


def _event_log(kind: str, where: str) -> Callable[[Store, int | None], Found]:
    """`lead_event_log` rows of one kind; Mautic's search looks inside their properties."""

    def found(store: Store, contact_id: int | None) -> Found:
        import json

        rows = _rows(store, "id, lead_id, action, date_added, properties FROM lead_event_log", contact_id, where)
        out: Found = []
        for log_id, lead_id, action, stamp, properties in rows:
            extra = json.loads(properties)
            label = LOG_LABELS.get((kind, action), "{name}").format(name=extra.get("object_description"))
            out.append((properties, _event(kind, log_id, label, stamp, lead_id, _camel(extra))))
        return out

    return found


def _emails(state: str) -> Callable[[Store, int | None], Found]:
    """Sends (`email.sent`, at the send) or reads (`email.read`, at the read) with the stat Mautic shows."""

    def found(store: Store, contact_id: int | None) -> Found:
        rows = _rows(
            store,
            "s.id, s.email_id, s.contact_id, s.date_sent, s.is_read, s.date_read, s.tracking_hash,"
            " json_extract(e.data, '$.name'), json_extract(e.data, '$.subject')"
            " FROM email_sends s LEFT JOIN emails e ON e.id = s.email_id",
            contact_id,
            "s.is_read = 1" if state == "read" else "",
            column="s.contact_id",
            order="s.id",
        )
        out: Found = []
        for send_id, email_id, lead_id, sent, is_read, read, hash_, name, subject in rows:
            stat = {
                "email_id": _text(email_id),
                "id": str(send_id),
                "dateRead": read,
                "dateSent": sent,
                "subject": subject,
                "email_name": name,
                "isRead": str(is_read),
                "isFailed": "0",
                "viewedInBrowser": "0",
                "retryCount": "0",
                "list_id": None,
                "list_name": None,
                "idHash": hash_,
                "openDetails": [],
                "storedSubject": subject,
                "timeToRead": _duration(sent, read),
            }
            label: Any = name or "Custom Email"
            if hash_:
                label = {"label": label, "href": f"{SITE}/email/view/{hash_}", "isExternal": True}
            stamp = read if state == "read" else sent
            event = _event(f"email.{state}", send_id, label, stamp, lead_id, {"stat": _camel(stat), "type": state})
            out.append((f"{name or ''} {subject or ''}", event))
        return out

    return found


def _duration(sent: str, read: str | None) -> str | bool:
    """Time from send to read as an ISO 8601 duration (`PT1M39S`), as Mautic serialises it; false if unread."""
    if not read:
        return False
    from datetime import datetime

    seconds = int((datetime.fromisoformat(read) - datetime.fromisoformat(sent)).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    parts = [(rest // 3600, "H"), (rest % 3600 // 60, "M"), (rest % 60, "S")]
    time = "".join(f"{n}{unit}" for n, unit in parts if n)
    if not days and not time:
        time = "0S"
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _stages(store: Store, contact_id: int | None) -> Found:
    """`lead_stages_change_log`; the label links to the stage, as Mautic's does."""
    select = "id, lead_id, stage_id, event_name, action_name, date_added FROM lead_stages_change_log"
    rows = _rows(store, select, contact_id)
    out: Found = []
    for log_id, lead_id, stage_id, name, action, stamp in rows:
        label: Any = name
        if stage_id is not None:
            label = {"label": name, "href": f"{SITE}/s/stages/edit/{stage_id}", "isExternal": False}
        log = {"id": str(log_id), "reference": _text(stage_id), "eventName": name, "actionName": action}
        event = _event("stage.changed", log_id, label, stamp, lead_id, {"log": {**log, "dateAdded": stamp}})
        out.append((f"{name} {action}", event))
    return out


def _points(store: Store, contact_id: int | None) -> Found:
    """`lead_points_change_log`, labelled `<event name> / <delta>`."""
    select = "id, lead_id, type, event_name, action_name, delta, date_added FROM lead_points_change_log"
    rows = _rows(store, select, contact_id)
    out: Found = []
    for log_id, lead_id, kind, name, action, delta, stamp in rows:
        log = {"eventName": name, "actionName": action, "dateAdded": stamp, "type": kind, "delta": str(delta)}
        details = {"log": {**log, "id": str(log_id), "groupName": None}}
        out.append((f"{name} {action}", _event("point.gained", log_id, f"{name} / {delta}", stamp, lead_id, details)))
    return out


# event type -> what finds its events; the types of TYPES without a source have none in the sandbox
SOURCES: dict[str, Callable[[Store, int | None], Found]] = {
    "lead.source.created": _event_log("lead.source.created", "action = 'created_contact'"),
    "lead.source.identified": _event_log("lead.source.identified", "action = 'identified_contact'"),
    "segment_membership": _event_log("segment_membership", "bundle = 'lead' AND object = 'segment'"),
    "campaign_membership": _event_log("campaign_membership", "bundle = 'campaign' AND object = 'campaign'"),
    "email.sent": _emails("sent"),
    "email.read": _emails("read"),
    "stage.changed": _stages,
    "point.gained": _points,
}
