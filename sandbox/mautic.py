"""Mautic REST API v1 emulation over the store, shared by `request` and `action run` so both agree.

`handle(store, method, path, query, body)` returns `(status, body)` with Mautic's shapes: lists keyed
by id with a string `total`, `{"<single key>": {...}}` for one item, `{"errors": [...]}` on failure.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.store import Store

    Response = tuple[int, Any]

# alias, label, type — the contact fields this Mautic instance has, all in the "core" group.
CONTACT_FIELDS = (
    ("title", "Title", "lookup"),
    ("firstname", "First Name", "text"),
    ("lastname", "Last Name", "text"),
    ("company", "Primary company", "text"),
    ("position", "Position", "text"),
    ("email", "Email", "email"),
    ("phone", "Phone", "tel"),
    ("mobile", "Mobile", "tel"),
    ("address1", "Address Line 1", "text"),
    ("address2", "Address Line 2", "text"),
    ("city", "City", "text"),
    ("state", "State", "region"),
    ("zipcode", "Zip Code", "text"),
    ("country", "Country", "country"),
    ("website", "Website", "url"),
)
COMPANY_FIELDS = (
    ("companyname", "Company Name", "text"),
    ("companyemail", "Company Email", "email"),
    ("companyphone", "Phone", "tel"),
    ("companywebsite", "Website", "url"),
    ("companyindustry", "Industry", "select"),
    ("companyaddress1", "Address 1", "text"),
    ("companyaddress2", "Address 2", "text"),
    ("companycity", "City", "text"),
    ("companystate", "State", "region"),
    ("companyzipcode", "Zip Code", "text"),
    ("companycountry", "Country", "country"),
    ("companynumber_of_employees", "Number of Employees", "number"),
    ("companyannual_revenue", "Annual Revenue", "number"),
    ("companydescription", "Description", "textarea"),
)
NUMERIC_FIELDS = frozenset({"points", "weight", "companynumber_of_employees", "companyannual_revenue", "size"})


class Entity:
    """What the API needs to know about one entity: keys, writable fields, rules, sortable columns."""

    def __init__(
        self,
        name: str,
        single: str,
        list_key: str,
        fields: dict[str, Any],
        required: tuple[str, ...],
        order: tuple[str, ...],
        upsert: bool = False,
    ) -> None:
        self.name = name
        self.single = single
        self.list_key = list_key
        self.fields = fields
        self.required = required
        self.order = frozenset(("id", "dateAdded", "dateModified", *order))
        self.upsert = upsert


def _defaults(*names: str, **extra: Any) -> dict[str, Any]:
    return {**dict.fromkeys(names), **extra}


ENTITIES = {
    e.name: e
    for e in (
        Entity(
            "contacts",
            "contact",
            "contacts",
            _defaults(*(f[0] for f in CONTACT_FIELDS), points=0, stage=None, tags=[], lastActive=None),
            ("email",),
            ("firstname", "lastname", "email", "company", "position", "city", "country", "points", "lastActive"),
            upsert=True,
        ),
        Entity(
            "companies",
            "company",
            "companies",
            _defaults(*(f[0] for f in COMPANY_FIELDS)),
            ("companyname",),
            tuple(f[0] for f in COMPANY_FIELDS if f[0] != "companydescription"),
            upsert=True,
        ),
        Entity(
            "segments",
            "list",
            "lists",
            _defaults(
                "name",
                "alias",
                "description",
                "category",
                isPublished=True,
                isGlobal=True,
                isPreferenceCenter=False,
                filters=[],
            ),
            ("name",),
            ("name", "alias"),
        ),
        Entity(
            "campaigns",
            "campaign",
            "campaigns",
            _defaults(
                "name",
                "description",
                "publishUp",
                "publishDown",
                "category",
                isPublished=True,
                allowRestart=False,
                events=[],
            ),
            ("name",),
            ("name",),
        ),
        Entity(
            "emails",
            "email",
            "emails",
            _defaults(
                "name",
                "subject",
                "fromAddress",
                "fromName",
                "replyToAddress",
                "customHtml",
                "plainText",
                "publishUp",
                "publishDown",
                "category",
                emailType="template",
                language="en",
                isPublished=True,
                lists=[],
                sentCount=0,
                readCount=0,
            ),
            ("name", "subject"),
            ("name", "subject", "sentCount", "readCount"),
        ),
        Entity(
            "forms",
            "form",
            "forms",
            _defaults(
                "name",
                "alias",
                "description",
                "category",
                "postActionProperty",
                isPublished=True,
                formType="standalone",
                postAction="message",
                fields=[],
                actions=[],
            ),
            ("name",),
            ("name", "alias"),
        ),
        Entity(
            "stages",
            "stage",
            "stages",
            _defaults("name", "description", "category", weight=0, isPublished=True),
            ("name",),
            ("name", "weight"),
        ),
        Entity(
            "notes",
            "note",
            "notes",
            _defaults("text", "lead", "dateTime", type="general", isPublished=True),
            ("text", "lead"),
            ("dateTime", "type"),
        ),
        Entity(
            "assets",
            "asset",
            "assets",
            _defaults(
                "title",
                "alias",
                "description",
                "path",
                "remotePath",
                "originalFileName",
                "extension",
                "mime",
                "category",
                storageLocation="local",
                size=0,
                downloadCount=0,
                uniqueDownloadCount=0,
                revision=1,
                language="en",
                isPublished=True,
            ),
            ("title",),
            ("title", "alias", "downloadCount", "size"),
        ),
    )
}
RELATIONS = {
    "segments": ("segment_contacts", "segment_id"),
    "campaigns": ("campaign_contacts", "campaign_id"),
    "companies": ("company_contacts", "company_id"),
}
MESSAGES = {
    400: "Bad Request",
    404: "Item was not found.",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Validation failed.",
}


def error(status: int, message: str | None = None, details: Any = None) -> Response:
    """Mautic's error body: `{"errors": [{"code", "message", "details", "type"}]}`."""
    return status, {
        "errors": [
            {
                "code": status,
                "message": message or MESSAGES.get(status, "Error"),
                "details": details if details is not None else [],
                "type": None,
            }
        ]
    }


def _invalid(details: dict[str, list[str]]) -> Response:
    message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in details.items())
    return error(422, message, details)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _record_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _valid_email(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value) or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(local) and "." in domain.strip(".") and not domain.startswith(".") and not domain.endswith(".")


# --- rendering -------------------------------------------------------------------------------------------


class Renderer:
    """Turns stored flat records into Mautic's response shapes, loading related rows once per request."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stages: dict[int, dict[str, Any]] | None = None
        self._segments: dict[int, dict[str, Any]] | None = None

    def stages(self) -> dict[int, dict[str, Any]]:
        if self._stages is None:
            self._stages = {s["id"]: s for s in self.store.all("stages")}
        return self._stages

    def segments(self) -> dict[int, dict[str, Any]]:
        if self._segments is None:
            self._segments = {s["id"]: s for s in self.store.all("segments")}
        return self._segments

    def render(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, "_" + entity, None)
        return method(record) if method else dict(record)

    def _contacts(self, r: dict[str, Any]) -> dict[str, Any]:
        core = {
            alias: {"id": i + 1, "group": "core", "label": label, "alias": alias, "type": type_, "value": r.get(alias)}
            for i, (alias, label, type_) in enumerate(CONTACT_FIELDS)
        }
        core["points"] = {
            "id": 100,
            "group": "core",
            "label": "Points",
            "alias": "points",
            "type": "number",
            "value": r.get("points", 0),
        }
        everything: dict[str, Any] = {"id": r["id"]}
        everything.update((alias, r.get(alias)) for alias, _, _ in CONTACT_FIELDS)
        everything["points"] = r.get("points", 0)
        stage = self.stages().get(r.get("stage")) if r.get("stage") else None
        return {
            "id": r["id"],
            "isPublished": True,
            "dateAdded": r.get("dateAdded"),
            "dateModified": r.get("dateModified"),
            "createdBy": 1,
            "createdByUser": "Sandbox Admin",
            "lastActive": r.get("lastActive"),
            "owner": None,
            "points": r.get("points", 0),
            "color": None,
            "stage": {"id": stage["id"], "name": stage["name"]} if stage else None,
            "tags": [{"tag": t} for t in r.get("tags") or []],
            "doNotContact": [],
            "utmtags": [],
            "ipAddresses": [],
            "fields": {"core": core, "all": everything},
        }

    def _companies(self, r: dict[str, Any]) -> dict[str, Any]:
        core = {
            alias: {
                "id": 200 + i,
                "group": "core",
                "label": label,
                "alias": alias,
                "type": type_,
                "value": r.get(alias),
            }
            for i, (alias, label, type_) in enumerate(COMPANY_FIELDS)
        }
        everything: dict[str, Any] = {"id": r["id"]}
        everything.update((alias, r.get(alias)) for alias, _, _ in COMPANY_FIELDS)
        return {
            "id": r["id"],
            "isPublished": r.get("isPublished", True),
            "dateAdded": r.get("dateAdded"),
            "dateModified": r.get("dateModified"),
            "score": 0,
            "owner": None,
            "fields": {"core": core, "all": everything},
        }

    def _emails(self, r: dict[str, Any]) -> dict[str, Any]:
        out = dict(r)
        segments = self.segments()
        out["lists"] = [
            {"id": sid, "name": segments[sid]["name"], "alias": segments[sid]["alias"]}
            for sid in r.get("lists") or []
            if sid in segments
        ]
        return out

    def _notes(self, r: dict[str, Any]) -> dict[str, Any]:
        out = dict(r)
        lead = self.store.get("contacts", r["lead"]) if r.get("lead") else None
        out["lead"] = (
            {
                "id": lead["id"],
                "points": lead.get("points", 0),
                "fields": {
                    "all": {
                        "id": lead["id"],
                        "firstname": lead.get("firstname"),
                        "lastname": lead.get("lastname"),
                        "email": lead.get("email"),
                    }
                },
            }
            if lead
            else None
        )
        return out

    def _assets(self, r: dict[str, Any]) -> dict[str, Any]:
        out = dict(r)
        out["downloadUrl"] = f"https://mautic.sandbox.invalid/asset/{r['id']}:{r.get('alias') or ''}"
        return out


# --- lists and search ------------------------------------------------------------------------------------


def _tokens(search: str) -> list[str]:
    """Splits a Mautic search string on spaces, keeping "quoted phrases" whole."""
    out, current, quoted = [], [], False
    for char in search:
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        out.append("".join(current))
    return out


def _search_clause(entity: str, search: str) -> tuple[list[str], list[Any]]:
    """WHERE terms for Mautic's search syntax: `email:`, `ids:`, `is:published`, `segment:`, `tag:`, text."""
    where: list[str] = []
    params: list[Any] = []
    for token in _tokens(search):
        command, colon, value = token.partition(":")
        command = command.lower()
        if colon and value:
            if command == "ids":
                ids = [_int(v, 0) for v in value.split(",")]
                where.append(f"id IN ({','.join('?' * len(ids))})")
                params.extend(ids)
                continue
            if command == "is":
                if value.lower() in ("published", "unpublished"):
                    where.append("published = ?")
                    params.append(1 if value.lower() == "published" else 0)
                continue
            if command == "email" and entity in ("contacts", "companies"):
                if entity == "contacts":
                    where.append("ukey = ?")
                else:
                    where.append("lower(json_extract(data, '$.companyemail')) = ?")
                params.append(value.lower())
                continue
            if command == "segment" and entity == "contacts":
                where.append(
                    "id IN (SELECT sc.contact_id FROM segment_contacts sc JOIN segments s"
                    " ON s.id = sc.segment_id WHERE s.ukey = ?)"
                )
                params.append(value.lower())
                continue
            if command == "tag" and entity == "contacts":
                where.append(
                    "EXISTS (SELECT 1 FROM json_each(contacts.data, '$.tags') WHERE lower(json_each.value) = ?)"
                )
                params.append(value.lower())
                continue
            if command == "company" and entity == "contacts":
                where.append("lower(json_extract(data, '$.company')) LIKE ?")
                params.append(f"%{value.lower()}%")
                continue
            if command == "alias":
                where.append("lower(json_extract(data, '$.alias')) = ?")
                params.append(value.lower())
                continue
            if command in ("name", "title"):
                token = value
        where.append("search LIKE ? ESCAPE '\\'")
        escaped = token.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    return where, params


def list_records(store: Store, entity: Entity, query: dict[str, Any]) -> Response:
    where, params = _search_clause(entity.name, str(query.get("search") or ""))
    if _truthy(query.get("published", "")):
        where.append("published = 1")
    column = str(query.get("orderBy") or "id")
    column = column.rpartition(".")[2]
    if column not in entity.order:
        return error(400, f"'{column}' is not a valid orderBy column for {entity.name}.")
    direction = str(query.get("orderByDir") or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        return error(400, "orderByDir must be ASC or DESC.")
    order = (
        f"id {direction}"
        if column == "id"
        else (f"json_extract(data, '$.{column}') COLLATE NOCASE {direction}, id {direction}")
    )
    total, records = store.select(
        entity.name, " AND ".join(where), params, order, _int(query.get("limit"), 30), _int(query.get("start"), 0)
    )
    renderer = Renderer(store)
    rows = {str(r["id"]): renderer.render(entity.name, r) for r in records}
    return 200, {"total": str(total), entity.list_key: rows or []}


# --- writes ----------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
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
            value = value if isinstance(value, bool) else _truthy(value)
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
                stage_id = _int(value.get("id") if isinstance(value, dict) else value, 0)
                if not store.get("stages", stage_id):
                    errors.setdefault("stage", []).append(f"Stage {value} does not exist.")
                    continue
                value = stage_id
        elif key == "lists" and entity.name == "emails":
            if not isinstance(value, list):
                value = [value]
            value = [_int(v.get("id") if isinstance(v, dict) else v, 0) for v in value]
        elif isinstance(entity.fields.get(key), list):
            if not isinstance(value, list):
                errors.setdefault(key, []).append("This value should be a list.")
                continue
        elif value is not None and not isinstance(value, str):
            value = str(value) if not isinstance(value, dict | list) else value
        base[key] = value
    return errors


def _validate(store: Store, entity: Entity, data: dict[str, Any], record_id: int | None) -> dict[str, list[str]]:
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
    company_id = store.find_id("companies", str(name)) if name else None
    if company_id is not None:
        store.conn.execute(
            "INSERT OR IGNORE INTO company_contacts VALUES (?, ?, ?, 1)", (company_id, contact_id, now())
        )


def _save_new(store: Store, entity: Entity, data: dict[str, Any]) -> dict[str, Any]:
    stamp = now()
    data["dateAdded"] = data["dateModified"] = stamp
    _finish(store, entity, data)
    data["id"] = store.insert(entity.name, data)
    if entity.name == "contacts":
        _link_company(store, data["id"], data.get("company"))
    return data


def create(store: Store, entity: Entity, body: Any) -> Response:
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object of fields.")
    existing_id = None
    if entity.upsert:
        key = body.get("email" if entity.name == "contacts" else "companyname")
        if isinstance(key, str) and key.strip():
            existing_id = store.find_id(entity.name, key)
    if existing_id is not None:
        return edit(store, entity, existing_id, "PATCH", body)
    data = dict(entity.fields)
    data["isPublished"] = data.get("isPublished", True)
    errors = _apply(store, entity, data, body, merge_tags=False) or _validate(store, entity, data, None)
    if errors:
        return _invalid(errors)
    data = _save_new(store, entity, data)
    return 201, {entity.single: Renderer(store).render(entity.name, data)}


def edit(store: Store, entity: Entity, record_id: int, method: str, body: Any) -> Response:
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object of fields.")
    existing = store.get(entity.name, record_id)
    if existing is None:
        if method == "PATCH":
            return error(404)
        return create_put(store, entity, body)
    if method == "PUT":
        data = {**entity.fields, "isPublished": True, "id": record_id, "dateAdded": existing.get("dateAdded")}
    else:
        data = dict(existing)
    errors = _apply(store, entity, data, body, merge_tags=method == "PATCH")
    errors = errors or _validate(store, entity, data, record_id)
    if errors:
        return _invalid(errors)
    data["dateModified"] = now()
    _finish(store, entity, data)
    store.update(entity.name, record_id, data)
    if entity.name == "contacts" and data.get("company") != existing.get("company"):
        _link_company(store, record_id, data.get("company"))
    return 200, {entity.single: Renderer(store).render(entity.name, data)}


def create_put(store: Store, entity: Entity, body: dict[str, Any]) -> Response:
    """PUT on a missing id creates a new record (with a new id), as Mautic does."""
    data = {**entity.fields, "isPublished": True}
    errors = _apply(store, entity, data, body, merge_tags=False) or _validate(store, entity, data, None)
    if errors:
        return _invalid(errors)
    if entity.upsert and store.find_id(entity.name, str(data.get(entity.required[0]) or "")) is not None:
        return _invalid({entity.required[0]: ["A record with this value already exists."]})
    data = _save_new(store, entity, data)
    return 201, {entity.single: Renderer(store).render(entity.name, data)}


def delete(store: Store, entity: Entity, record_id: int) -> Response:
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


# --- relations -------------------------------------------------------------------------------------------


def relate(store: Store, entity: Entity, record_id: int, contact_id: int, op: str) -> Response:
    """`POST /api/<entity>/{id}/contact/{cid}/<add|remove|send>`."""
    allowed = {
        "segments": ("add", "remove"),
        "campaigns": ("add", "remove"),
        "companies": ("add", "remove"),
        "stages": ("add", "remove"),
        "emails": ("send",),
    }.get(entity.name, ())
    if op not in allowed:
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
    conn = store.conn
    if what == "notes":
        renderer = Renderer(store)
        rows = store.all("notes", "json_extract(data, '$.lead') = ?", (contact_id,))
        notes = [renderer.render("notes", r) for r in rows]
        return 200, {"total": len(notes), "notes": notes}
    if what == "segments":
        segments = Renderer(store).segments()
        rows = conn.execute(
            "SELECT segment_id, date_added FROM segment_contacts WHERE contact_id = ? ORDER BY segment_id",
            (contact_id,),
        ).fetchall()
        lists = {
            str(sid): {"id": sid, "name": segments[sid]["name"], "alias": segments[sid]["alias"], "dateAdded": added}
            for sid, added in rows
            if sid in segments
        }
        return 200, {"total": len(lists), "lists": lists or []}
    if what == "campaigns":
        rows = conn.execute(
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
    rows = conn.execute(
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


def fields(object_: str, field_id: int | None) -> Response:
    """`GET /api/fields/<contact|company>[/{id}]`: the custom-field definitions."""
    defs = CONTACT_FIELDS if object_ == "contact" else COMPANY_FIELDS
    base = 1 if object_ == "contact" else 200
    items = {
        str(base + i): {
            "id": base + i,
            "label": label,
            "alias": alias,
            "type": type_,
            "group": "core",
            "object": "lead" if object_ == "contact" else "company",
            "order": i + 1,
            "isPublished": True,
            "isRequired": False,
            "isUniqueIdentifier": alias == "email",
            "defaultValue": None,
            "properties": [],
        }
        for i, (alias, label, type_) in enumerate(defs)
    }
    if field_id is not None:
        field = items.get(str(field_id))
        return (200, {"field": field}) if field else error(404)
    return 200, {"total": str(len(items)), "fields": items}


# --- routing ---------------------------------------------------------------------------------------------


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
        return fields(parts[2], field_id)
    entity = ENTITIES.get(parts[1])
    if entity is None:
        return unknown
    rest = parts[2:]
    if not rest:
        return list_records(store, entity, query) if method == "GET" else error(405)
    if rest == ["new"]:
        if method != "POST":
            return error(405)
        with store.transaction():
            return create(store, entity, body)
    record_id = _record_id(rest[0])
    if record_id is None:
        return error(404) if len(rest) == 1 else unknown
    if len(rest) == 1:
        if method != "GET":
            return error(405)
        record = store.get(entity.name, record_id)
        if record is None:
            return error(404)
        return 200, {entity.single: Renderer(store).render(entity.name, record)}
    if len(rest) == 2 and rest[1] == "edit":
        if method not in ("PATCH", "PUT"):
            return error(405)
        with store.transaction():
            return edit(store, entity, record_id, method, body)
    if len(rest) == 2 and rest[1] == "delete":
        if method != "DELETE":
            return error(405)
        with store.transaction():
            return delete(store, entity, record_id)
    if len(rest) == 2 and entity.name == "contacts" and rest[1] in ("notes", "segments", "campaigns", "companies"):
        return contact_related(store, record_id, rest[1]) if method == "GET" else error(405)
    if len(rest) == 4 and rest[1] == "contact":
        contact_id = _record_id(rest[2])
        if contact_id is None:
            return error(404)
        if method != "POST":
            return error(405)
        with store.transaction():
            return relate(store, entity, record_id, contact_id, rest[3])
    return unknown
