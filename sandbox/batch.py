"""Batch writes, as Mautic's `CommonApiController` and `ListApiController` answer them: `POST /api/<entity>/batch/new`,
`PUT|PATCH /api/<entity>/batch/edit`, `DELETE /api/<entity>/batch/delete?ids=1,2`, and
`POST /api/segments/{id}/contacts/add` with `{"ids": [...]}`.

Each item is checked and written on its own, in its own transaction, through the same create, edit, delete and
relate code as single requests: a bad item fails alone with its error and the others are written. Answers keep
the request's item keys, `statusCodes` per item and `errors` by key, shaped as PHP arrays are in JSON (a list
only while the keys run 0, 1, …). More items than `api_batch_max_limit` (200) is refused before anything is
written, with the error Mautic sends: HTTP 500, "A max of 200 entities are supported at a time.".
"""

from __future__ import annotations

from mautic_mcp.sandbox.entities import ENTITIES
from mautic_mcp.sandbox.responses import error
from mautic_mcp.sandbox.values import as_list, php_array, to_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.entities import Entity
    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store

BATCH_LIMIT = 200  # Mautic's api_batch_max_limit default
NOT_FOUND = {"message": "Item was not found.", "code": 404, "type": "api"}


def _too_many() -> Response:
    return error(500, f"A max of {BATCH_LIMIT} entities are supported at a time.")


def _items(body: Any) -> list[tuple[str, Any]] | None:
    """The batch as (key, item) pairs: a JSON array, or an object keyed by index (a PHP array, as form data
    `0[email]=…` arrives). None for anything else, such as a single record sent without the array."""
    if isinstance(body, list):
        return [(str(i), item) for i, item in enumerate(body)]
    if isinstance(body, dict) and all(str(k).isdigit() for k in body):
        return [(str(k), item) for k, item in body.items()]
    return None


def _bad_body(entity: Entity) -> Response:
    return error(400, f"The request body must be a JSON array of {entity.name}, one object per {entity.single}.")


def _item_error(status: int, body: Any) -> dict[str, Any]:
    """A failed item's entry in `errors`: Mautic's error object (`code`, `message`, `details`, `type`)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return dict(errors[0]) if errors else {"code": status, "message": "Bad Request", "details": [], "type": None}


def _not_object(entity: Entity) -> dict[str, Any]:
    message = f"Each item must be a JSON object of {entity.single} fields."
    return {"code": 400, "message": message, "details": [], "type": None}


def _answer(
    entity: Entity, records: dict[str, Any], codes: dict[str, int] | None, errors: dict[str, Any]
) -> dict[str, Any]:
    """The records written, by item key; `statusCodes` (none for batch delete); `errors` when an item failed."""
    out = {entity.list_key: php_array(records)}
    if codes is not None:
        out["statusCodes"] = php_array(codes)
    if errors:
        out["errors"] = php_array(errors)
    return out


def _each(
    store: Store, entity: Entity, body: Any, write: Callable[[dict[str, Any]], Response], status: int
) -> Response:
    """Every item written on its own, in its own transaction, unless it is not an object; the answer has
    `status`. An item whose record is missing (404) gets Mautic's batch not-found error. A body that is not a
    list, or is over the limit, is refused whole."""
    items = _items(body)
    if items is None:
        return _bad_body(entity)
    if len(items) > BATCH_LIMIT:
        return _too_many()
    records: dict[str, Any] = {}
    codes: dict[str, int] = {}
    errors: dict[str, Any] = {}
    for key, item in items:
        if not isinstance(item, dict):
            errors[key], codes[key] = _not_object(entity), 400
            continue
        with store.transaction():
            code, answer = write(item)
        codes[key] = code
        if code == 404:
            errors[key] = dict(NOT_FOUND)
        elif code >= 400:
            errors[key] = _item_error(code, answer)
        else:
            records[key] = answer[entity.single]
    return status, _answer(entity, records, codes, errors)


def new(store: Store, entity: Entity, method: str, body: Any, query: dict[str, Any]) -> Response:
    """`POST /api/<entity>/batch/new`: 201 for a new record, 200 for one matched by email (contacts) or name
    (companies) and updated, the item's error code otherwise; the answer itself is always 201."""
    from mautic_mcp.sandbox.writes import create

    return _each(store, entity, body, lambda item: create(store, entity, item, batch=True), 201)


def edit(store: Store, entity: Entity, method: str, body: Any, query: dict[str, Any]) -> Response:
    """`PATCH|PUT /api/<entity>/batch/edit`: items carry their `id`. PATCH fails an item whose record is missing
    (404); PUT creates it (201) and clears the fields an existing record's item leaves out."""
    from mautic_mcp.sandbox.writes import edit as edit_one

    def write(item: dict[str, Any]) -> Response:
        fields = {k: v for k, v in item.items() if k != "id"}
        return edit_one(store, entity, max(to_int(item.get("id"), 0), 0), method, fields, batch=True)

    return _each(store, entity, body, write, 200)


def delete(store: Store, entity: Entity, method: str, body: Any, query: dict[str, Any]) -> Response:
    """`DELETE /api/<entity>/batch/delete?ids=1,2`: the records found, as they were, and a 404 error for each
    id that was not; Mautic counts the query's parameters, not the ids, against the batch limit."""
    if len(query) > BATCH_LIMIT:
        return _too_many()
    from mautic_mcp.sandbox.writes import delete as delete_one

    records: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for index, given in enumerate(as_list(query.get("ids"))):
        record_id = to_int(given, 0)
        # `> 0` also keeps a negative id beyond SQLite's integer range (-99999999999999999999) a 404
        with store.transaction():
            status, answer = delete_one(store, entity, record_id) if record_id > 0 else error(404)
        if status >= 400:
            errors[str(index)] = dict(NOT_FOUND)
        else:
            records[str(index)] = answer[entity.single]
    return 200, _answer(entity, records, None, errors)


def add_to_segment(store: Store, segment_id: int, body: Any) -> Response:
    """`POST /api/segments/{id}/contacts/add` with `{"ids": [...]}` (or `ids[]=` form data, or `"1,2"`):
    `details` says per contact id whether it was added; Mautic sets no batch limit on this route."""
    ids = body.get("ids") if isinstance(body, dict) else None
    if ids is None:
        return error(400, "This is a bad request.")
    if store.get("segments", segment_id) is None:
        return error(404)
    from mautic_mcp.sandbox.relations import relate

    details: dict[str, Any] = {}
    for given in as_list(ids):
        contact_id = to_int(given, 0)
        with store.transaction():
            status, _ = (
                relate(store, ENTITIES["segments"], segment_id, contact_id, "add") if contact_id > 0 else (404, None)
            )
        details[str(given)] = {"success": status == 200}
    return 200, {"success": 1, "details": php_array(details)}


# `/api/<entity>/batch/<op>` -> (the methods it takes, what answers it with store, entity, method, body, query)
BATCH: dict[str, tuple[tuple[str, ...], Callable[[Store, Entity, str, Any, dict[str, Any]], Response]]] = {
    "new": (("POST",), new),
    "edit": (("PATCH", "PUT"), edit),
    "delete": (("DELETE",), delete),
}
