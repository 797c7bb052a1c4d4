"""Writes to the emulated Mautic: create (an upsert for contacts and companies), edit by PATCH or PUT, and
delete with its cascades; each checks its input with Mautic's validation rules and answers as Mautic does.
"""

from __future__ import annotations

from mautic_mcp.sandbox import history
from mautic_mcp.sandbox.entities import NUMERIC_FIELDS, RELATIONS
from mautic_mcp.sandbox.rendering import Renderer
from mautic_mcp.sandbox.responses import error, invalid
from mautic_mcp.sandbox.values import now, to_int, truthy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.entities import Entity
    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store


def _valid_email(value: Any) -> bool:
    """Mautic's check: one `@`, no whitespace, a dotted domain."""
    if not isinstance(value, str) or any(c.isspace() for c in value) or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(local) and "." in domain.strip(".") and not domain.startswith(".") and not domain.endswith(".")


def _slug(text: str) -> str:
    """Lowercase words joined by `-`, the way Mautic derives an alias from a name."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)


def _apply(
    store: Store, entity: Entity, base: dict[str, Any], body: dict[str, Any], merge_tags: bool
) -> dict[str, list[str]]:
    """Copies writable fields from `body` into `base`, normalising values; returns field errors."""
    errors: dict[str, list[str]] = {}
    for key, value in body.items():
        if key == "contact" and entity.name == "notes":
            key = "lead"
        if key not in entity.fields and key != "isPublished":
            continue
        if key in NUMERIC_FIELDS or (key == "lead" and entity.name == "notes"):
            if value in (None, "") and key != "lead":
                value = 0 if key in ("points", "weight") else None
            else:
                try:
                    value = int(value) if float(value) == int(float(value)) else float(value)
                except (TypeError, ValueError):
                    errors.setdefault(key, []).append("This value should be a number.")
                    continue
        elif key == "isPublished" or (isinstance(entity.fields.get(key), bool)):
            value = value if isinstance(value, bool) else truthy(value)
        elif key == "tags":
            items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
            current = list(base.get("tags") or []) if merge_tags else []
            for item in items:
                tag = str(item).strip()
                if tag.startswith("-"):
                    current = [t for t in current if t != tag[1:]]
                elif tag and tag not in current:
                    current.append(tag)
            value = current
        elif key == "stage":
            if value in (None, "", 0):
                value = None
            else:
                stage_id = to_int(value.get("id") if isinstance(value, dict) else value, 0)
                if not store.get("stages", stage_id):
                    errors.setdefault("stage", []).append(f"Stage {value} does not exist.")
                    continue
                value = stage_id
        elif key == "lists" and entity.name == "emails":
            if not isinstance(value, list):
                value = [value]
            value = [to_int(v.get("id") if isinstance(v, dict) else v, 0) for v in value]
        elif isinstance(entity.fields.get(key), list):
            if not isinstance(value, list):
                errors.setdefault(key, []).append("This value should be a list.")
                continue
        elif value is not None and not isinstance(value, str):
            value = str(value) if not isinstance(value, dict | list) else value
        base[key] = value
    return errors


def _validate(store: Store, entity: Entity, data: dict[str, Any], record_id: int | None) -> dict[str, list[str]]:
    """Mautic's rules for a record about to be saved (`record_id` None when new); returns field errors."""
    errors: dict[str, list[str]] = {}
    for field in entity.required:
        if data.get(field) in (None, ""):
            message = "A valid email is required." if field == "email" else "A value is required."
            errors.setdefault(field, []).append(message)
    if entity.name == "contacts" and data.get("email") and not _valid_email(data["email"]):
        errors.setdefault("email", []).append("A valid email is required.")
    if entity.name == "notes" and data.get("lead") and not store.get("contacts", data["lead"]):
        errors.setdefault("lead", []).append(f"Contact {data['lead']} does not exist.")
    if entity.name == "segments" and data.get("alias"):
        other = store.find_id("segments", data["alias"])
        if other is not None and other != record_id:
            errors.setdefault("alias", []).append(f"The alias is already used by segment {other}.")
    if entity.name == "contacts" and data.get("email") and record_id is not None:
        other = store.find_id("contacts", data["email"])
        if other is not None and other != record_id:
            errors.setdefault("email", []).append(f"This email is already used by contact {other}.")
    if entity.name == "companies" and data.get("companyname") and record_id is not None:
        other = store.find_id("companies", data["companyname"])
        if other is not None and other != record_id:
            errors.setdefault("companyname", []).append(f"The name is already used by company {other}.")
    return errors


def _finish(store: Store, entity: Entity, data: dict[str, Any]) -> None:
    """Fills derived fields a real Mautic would set on save."""
    if entity.name in ("segments", "forms", "assets") and not data.get("alias"):
        source = data.get("title") if entity.name == "assets" else data.get("name")
        data["alias"] = _slug(str(source or ""))[:50] if entity.name != "forms" else _slug(str(source))[:10]
        if entity.name == "segments":
            data["alias"] = _unused_alias(store, data["alias"], data.get("id"))
    if entity.name == "notes" and not data.get("dateTime"):
        data["dateTime"] = now()
    if entity.name == "assets" and data.get("path") and not data.get("extension"):
        data["extension"] = str(data["path"]).rpartition(".")[2]


def _unused_alias(store: Store, alias: str, record_id: Any) -> str:
    """Mautic makes a derived segment alias unique by appending a number."""
    candidate, number = alias, 1
    while store.find_id("segments", candidate) not in (None, record_id):
        candidate, number = f"{alias}{number}", number + 1
    return candidate


def _link_company(store: Store, contact_id: int, name: Any) -> None:
    """A contact's `company` text makes it a member of the company of that name, when there is one."""
    company_id = store.find_id("companies", str(name)) if name else None
    if company_id is not None:
        store.conn.execute(
            "INSERT OR IGNORE INTO company_contacts VALUES (?, ?, ?, 1)", (company_id, contact_id, now())
        )


def _save_new(store: Store, entity: Entity, data: dict[str, Any], batch: bool) -> dict[str, Any]:
    """Stamps, completes and inserts a validated new record; returns it with its id. A new contact is logged
    as identified by the API (`batch` says which endpoint), which starts its timeline."""
    stamp = now()
    data["dateAdded"] = data["dateModified"] = stamp
    _finish(store, entity, data)
    data["id"] = store.insert(entity.name, data)
    if entity.name == "contacts":
        _link_company(store, data["id"], data.get("company"))
        history.identified(store, data["id"], batch)
    return data


def create(store: Store, entity: Entity, body: Any, batch: bool = False) -> Response:
    """`POST /api/<entity>/new`; a contact's email or a company's name that exists edits that record instead."""
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object of fields.")
    existing_id = None
    if entity.upsert:
        key = body.get("email" if entity.name == "contacts" else "companyname")
        if isinstance(key, str) and key.strip():
            existing_id = store.find_id(entity.name, key)
    if existing_id is not None:
        return edit(store, entity, existing_id, "PATCH", body, batch)
    data = dict(entity.fields)
    data["isPublished"] = data.get("isPublished", True)
    errors = _apply(store, entity, data, body, merge_tags=False) or _validate(store, entity, data, None)
    if errors:
        return invalid(errors)
    data = _save_new(store, entity, data, batch)
    return 201, {entity.single: Renderer(store).render(entity.name, data)}


def edit(store: Store, entity: Entity, record_id: int, method: str, body: Any, batch: bool = False) -> Response:
    """`/api/<entity>/{id}/edit`: PATCH merges `body` into the record, PUT replaces the record with it."""
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object of fields.")
    existing = store.get(entity.name, record_id)
    if existing is None:
        if method == "PATCH":
            return error(404)
        return _create_put(store, entity, body, batch)
    if method == "PUT":
        data = {**entity.fields, "isPublished": True, "id": record_id, "dateAdded": existing.get("dateAdded")}
    else:
        data = dict(existing)
    errors = _apply(store, entity, data, body, merge_tags=method == "PATCH")
    errors = errors or _validate(store, entity, data, record_id)
    if errors:
        return invalid(errors)
    data["dateModified"] = now()
    _finish(store, entity, data)
    store.update(entity.name, record_id, data)
    if entity.name == "contacts" and data.get("company") != existing.get("company"):
        _link_company(store, record_id, data.get("company"))
    return 200, {entity.single: Renderer(store).render(entity.name, data)}


def _create_put(store: Store, entity: Entity, body: dict[str, Any], batch: bool) -> Response:
    """PUT on a missing id creates a new record (with a new id), as Mautic does."""
    data = {**entity.fields, "isPublished": True}
    errors = _apply(store, entity, data, body, merge_tags=False) or _validate(store, entity, data, None)
    if errors:
        return invalid(errors)
    if entity.upsert and store.find_id(entity.name, str(data.get(entity.required[0]) or "")) is not None:
        return invalid({entity.required[0]: ["A record with this value already exists."]})
    data = _save_new(store, entity, data, batch)
    return 201, {entity.single: Renderer(store).render(entity.name, data)}


def delete(store: Store, entity: Entity, record_id: int) -> Response:
    """`DELETE /api/<entity>/{id}/delete`: answers the deleted record, and drops what referred to it."""
    existing = store.get(entity.name, record_id)
    if existing is None:
        return error(404)
    rendered = Renderer(store).render(entity.name, existing)
    conn = store.conn
    store.delete(entity.name, record_id)
    if entity.name == "contacts":
        for table in ("segment_contacts", "campaign_contacts", "company_contacts", "email_sends"):
            conn.execute(f"DELETE FROM {table} WHERE contact_id = ?", (record_id,))
        conn.execute("DELETE FROM notes WHERE json_extract(data, '$.lead') = ?", (record_id,))
        history.forget(store, record_id)
    elif entity.name in RELATIONS:
        table, column = RELATIONS[entity.name]
        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (record_id,))
    elif entity.name == "stages":
        for contact in conn.execute(
            "SELECT id, data FROM contacts WHERE json_extract(data, '$.stage') = ?", (record_id,)
        ).fetchall():
            conn.execute(
                "UPDATE contacts SET data = json_set(data, '$.stage', json('null')) WHERE id = ?", (contact[0],)
            )
    elif entity.name == "emails":
        conn.execute("DELETE FROM email_sends WHERE email_id = ?", (record_id,))
    return 200, {entity.single: rendered}
