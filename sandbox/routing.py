"""The emulated Mautic's front door: `handle` maps one request's method and path to the endpoint that
answers it, as `(status, body)` in Mautic's REST API v1 shapes: lists keyed by id with a string `total`,
`{"<single key>": {...}}` for one item, `{"errors": [...]}` on failure. `request` and `action run` both
come through here, so the two always agree.

Each endpoint's module is imported where the path reaches it: one process answers one request, so a read
does not pay for loading the writes.
"""

from __future__ import annotations

from mautic_mcp.sandbox.entities import ENTITIES
from mautic_mcp.sandbox.responses import error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.entities import Entity
    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store


def handle(store: Store, method: str, path: str, query: dict[str, Any], body: Any) -> Response:
    """Answers one API request the way Mautic's v1 API would."""
    method = method.upper()
    parts = [p for p in path.partition("?")[0].split("/") if p]
    unknown = error(404, f"Requested URL not found: /{'/'.join(parts)}")
    if len(parts) < 2 or parts[0] != "api":
        return unknown
    if parts[1] == "fields" and len(parts) in (3, 4) and parts[2] in ("contact", "company"):
        if method != "GET":
            return error(405)
        field_id = _record_id(parts[3]) if len(parts) == 4 else None
        if len(parts) == 4 and field_id is None:
            return error(404)
        return _fields(parts[2], field_id)
    if parts[1] == "stats" and len(parts) <= 3:
        if method != "GET":
            return error(405)
        from mautic_mcp.sandbox.stats import stats

        return stats(store, parts[2] if len(parts) == 3 else None, query)
    entity = ENTITIES.get(parts[1])
    if entity is None:
        return unknown
    rest = parts[2:]
    if not rest:
        if method != "GET":
            return error(405)
        from mautic_mcp.sandbox.search import list_records

        return list_records(store, entity, query)
    if rest == ["new"]:
        if method != "POST":
            return error(405)
        from mautic_mcp.sandbox.writes import create

        with store.transaction():
            return create(store, entity, body)
    if rest[0] == "batch" and len(rest) == 2:
        from mautic_mcp.sandbox.batch import BATCH

        if rest[1] not in BATCH:
            return unknown
        methods, answer = BATCH[rest[1]]
        return answer(store, entity, method, body, query) if method in methods else error(405)
    if entity.name == "contacts" and rest == ["activity"]:
        if method != "GET":
            return error(405)
        from mautic_mcp.sandbox.timeline import activity

        return activity(store, None, query)
    record_id = _record_id(rest[0])
    if record_id is None:
        return error(404) if len(rest) == 1 else unknown
    if len(rest) == 1:
        if method != "GET":
            return error(405)
        return _read(store, entity, record_id)
    if len(rest) == 2 and rest[1] == "edit":
        if method not in ("PATCH", "PUT"):
            return error(405)
        from mautic_mcp.sandbox.writes import edit

        with store.transaction():
            return edit(store, entity, record_id, method, body)
    if len(rest) == 2 and rest[1] == "delete":
        if method != "DELETE":
            return error(405)
        from mautic_mcp.sandbox.writes import delete

        with store.transaction():
            return delete(store, entity, record_id)
    if len(rest) == 2 and entity.name == "contacts" and rest[1] in CONTACT_LISTS:
        if method != "GET":
            return error(405)
        from mautic_mcp.sandbox.relations import contact_related

        return contact_related(store, record_id, rest[1])
    route = RECORD_ROUTES.get((entity.name, *rest[1:]))
    if route is not None:
        return route[1](store, record_id, query, body) if method == route[0] else error(405)
    if len(rest) == 4 and rest[1] == "contact":
        contact_id = _record_id(rest[2])
        if contact_id is None:
            return error(404)
        if method != "POST":
            return error(405)
        from mautic_mcp.sandbox.relations import relate

        with store.transaction():
            return relate(store, entity, record_id, contact_id, rest[3])
    return unknown


# what `GET /api/contacts/{id}/<what>` lists; relations.CONTACT_RELATED answers each
CONTACT_LISTS = frozenset({"notes", "segments", "campaigns", "companies"})


def _activity(store: Store, record_id: int, query: dict[str, Any], body: Any) -> Response:
    from mautic_mcp.sandbox.timeline import activity

    return activity(store, record_id, query)


def _campaign_contacts(store: Store, record_id: int, query: dict[str, Any], body: Any) -> Response:
    from mautic_mcp.sandbox.stats import campaign_contacts

    return campaign_contacts(store, record_id, query)


def _segment_add(store: Store, record_id: int, query: dict[str, Any], body: Any) -> Response:
    from mautic_mcp.sandbox.batch import add_to_segment

    return add_to_segment(store, record_id, body)


# (entity, the path after the id) -> (method, what answers it), for the routes under one record
RECORD_ROUTES: dict[tuple[str, ...], tuple[str, Callable[[Store, int, dict[str, Any], Any], Response]]] = {
    ("contacts", "activity"): ("GET", _activity),
    ("campaigns", "contacts"): ("GET", _campaign_contacts),
    ("segments", "contacts", "add"): ("POST", _segment_add),
}


def _record_id(text: str) -> int | None:
    """An id path segment: digits only, and short enough to be a real id rather than an overflow."""
    return int(text) if text.isdigit() and len(text) < 12 else None


def _read(store: Store, entity: Entity, record_id: int) -> Response:
    """`GET /api/<entity>/{id}`."""
    record = store.get(entity.name, record_id)
    if record is None:
        return error(404)
    from mautic_mcp.sandbox.rendering import Renderer

    return 200, {entity.single: Renderer(store).render(entity.name, record)}


def _fields(object_: str, field_id: int | None) -> Response:
    """`GET /api/fields/<contact|company>[/{id}]`: the custom-field definitions."""
    from mautic_mcp.sandbox.rendering import field_definitions

    items = field_definitions(object_)
    if field_id is not None:
        field = items.get(str(field_id))
        return (200, {"field": field}) if field else error(404)
    return 200, {"total": str(len(items)), "fields": items}
