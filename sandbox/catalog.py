"""The Mautic action catalog, in Membrane's data-schema dialect, with the quirks real catalogs have.

Each action's `id` is the first 24 hex digits of sha1 of its key (of its name when the key is empty),
computed only when asked for, since most runs look actions up by key. The quirks on purpose:
`create-contact.tags` is an array without `items`; Membrane-only keys (`referenceCollection`,
`referenceRecords`, `allowCustom`, `isSensitive`) sit on some properties; `list-contact-fields` has no
`inputSchema`; "Search Contacts by Email" has an empty key; `contacts.find-by-tag` has a key MCP clients
reject as a tool name; `update-company` uses a local `$ref` into `definitions`; `get-segment`'s input root
has no `type`; `create-contact.ipAddress` is `writeOnly` and `isSensitive`.
"""

from __future__ import annotations

from mautic_mcp.sandbox.workspace import CREATED_AT, UPDATED_AT, integration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Friendly action field -> Mautic company field alias.
COMPANY_FIELD_ALIASES = {
    "name": "companyname",
    "email": "companyemail",
    "phone": "companyphone",
    "website": "companywebsite",
    "industry": "companyindustry",
    "address1": "companyaddress1",
    "address2": "companyaddress2",
    "city": "companycity",
    "state": "companystate",
    "zipcode": "companyzipcode",
    "country": "companycountry",
    "numberOfEmployees": "companynumber_of_employees",
    "annualRevenue": "companyannual_revenue",
    "description": "companydescription",
}
CONTACT_TEXT_FIELDS = (
    "firstname", "lastname", "company", "position", "phone", "mobile", "address1", "address2", "city",
    "state", "zipcode", "country", "website",
)  # fmt: skip
ORDER_COLUMNS = {
    "contacts": [
        "id",
        "firstname",
        "lastname",
        "email",
        "company",
        "position",
        "city",
        "country",
        "points",
        "lastActive",
        "dateAdded",
        "dateModified",
    ],
    "companies": [
        "id",
        "name",
        "email",
        "city",
        "country",
        "industry",
        "numberOfEmployees",
        "annualRevenue",
        "dateAdded",
        "dateModified",
    ],
    "segments": ["id", "name", "alias", "dateAdded", "dateModified"],
    "campaigns": ["id", "name", "dateAdded", "dateModified"],
    "emails": ["id", "name", "subject", "sentCount", "readCount", "dateAdded", "dateModified"],
    "forms": ["id", "name", "alias", "dateAdded", "dateModified"],
    "stages": ["id", "name", "weight", "dateAdded", "dateModified"],
    "notes": ["id", "dateTime", "type"],
    "assets": ["id", "title", "alias", "downloadCount", "size", "dateAdded", "dateModified"],
}
SINGULAR = {
    "contacts": "contact", "companies": "company", "segments": "segment", "campaigns": "campaign",
    "emails": "email", "forms": "form", "stages": "stage", "notes": "note", "assets": "asset",
}  # fmt: skip


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


def _id(what: str, **extra: Any) -> dict[str, Any]:
    return _int(f"ID of the {what}", minimum=1, **extra)


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out.update(extra)
    return out


DATES = {
    "dateAdded": _str("When it was created", format="date-time"),
    "dateModified": _str("When it was last changed", format="date-time"),
}
RECORDS: dict[str, dict[str, Any]] = {
    "contacts": _obj({
        "id": _int("Contact ID"), "firstname": _str("First name"), "lastname": _str("Last name"),
        "email": _str("Email address", format="email"), "title": _str("Title"),
        **{f: _str(f.capitalize()) for f in CONTACT_TEXT_FIELDS if f not in ("firstname", "lastname")},
        "points": _int("Lead score"), "stage": {"type": ["string", "null"], "description": "Stage name"},
        "stageId": {"type": ["integer", "null"], "description": "Stage ID"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "lastActive": {"type": ["string", "null"], "format": "date-time"}, **DATES,
    }),
    "companies": _obj({"id": _int("Company ID"), **{k: _str(k) for k in COMPANY_FIELD_ALIASES}, **DATES}),
    "segments": _obj({"id": _int("Segment ID"), "name": _str("Name"), "alias": _str("Alias used in search"),
                      "description": _str("Description"), "isPublished": {"type": "boolean"},
                      "isGlobal": {"type": "boolean"}, **DATES}),
    "campaigns": _obj({"id": _int("Campaign ID"), "name": _str("Name"), "description": _str("Description"),
                       "isPublished": {"type": "boolean"}, "events": {"type": "array", "items": {"type": "object"}},
                       **DATES}),
    "emails": _obj({"id": _int("Email ID"), "name": _str("Internal name"), "subject": _str("Subject line"),
                    "emailType": _str("`list` (segment email) or `template`", enum=["list", "template"]),
                    "customHtml": _str("The full HTML body"), "isPublished": {"type": "boolean"},
                    "sentCount": _int("Times sent"), "readCount": _int("Times read"),
                    "lists": {"type": "array", "items": {"type": "object"}}, **DATES}),
    "forms": _obj({"id": _int("Form ID"), "name": _str("Name"), "alias": _str("Alias"),
                   "description": _str("Description"), "isPublished": {"type": "boolean"},
                   "fields": {"type": "array", "items": {"type": "object"}}, **DATES}),
    "stages": _obj({"id": _int("Stage ID"), "name": _str("Name"), "weight": _int("Order of the stage"),
                    "description": _str("Description"), "isPublished": {"type": "boolean"}, **DATES}),
    "notes": _obj({"id": _int("Note ID"), "text": _str("Note text"), "type": _str("Note type"),
                   "dateTime": _str("When it happened", format="date-time"), "contactId": _int("Contact ID")}),
    "assets": _obj({"id": _int("Asset ID"), "title": _str("Title"), "alias": _str("Alias"),
                    "description": _str("Description"), "downloadUrl": _str("Public download link"),
                    "extension": _str("File extension"), "mime": _str("MIME type"), "size": _int("Bytes"),
                    "downloadCount": _int("Downloads"), "isPublished": {"type": "boolean"}, **DATES}),
}  # fmt: skip


def _list_output(area: str) -> dict[str, Any]:
    return _obj(
        {
            "records": {"type": "array", "items": RECORDS[area]},
            "total": _int("How many records match, over all pages"),
            "cursor": _str("Pass as `cursor` to get the next page; absent on the last page"),
        },
        ["records", "total"],
    )


def _list_input(area: str, **extra: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "search": _str(
            "Free text, or Mautic search syntax such as `email:jane@example.com`, `ids:1,2` or `is:published`"
        ),
        **extra,
        "limit": _int("Records per page", minimum=1, maximum=100, default=30),
        "cursor": _str("The `cursor` of the previous page, to get the next one"),
        "start": _int("Offset of the first record; ignored when `cursor` is given", minimum=0),
        "orderBy": _str("Column to sort by", enum=ORDER_COLUMNS[area]),
        "orderByDir": _str("Sort direction", enum=["asc", "desc"], default="asc"),
    }
    if area != "contacts":
        properties["publishedOnly"] = {"type": "boolean", "description": "Only published items"}
    return _obj(properties)


def _contact_input(require_email: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "email": _str("Email address; an existing contact with this email is updated", format="email"),
        **{f: _str(f.capitalize()) for f in CONTACT_TEXT_FIELDS},
        "points": _int("Lead score"),
        "stage": _int("Stage ID", referenceCollection={"key": "stages"}),
        "ipAddress": _str("IP address to associate with the contact; never returned", writeOnly=True, isSensitive=True),
    }
    properties["company"]["allowCustom"] = True
    properties["company"]["referenceCollection"] = {"key": "companies"}
    if require_email:
        properties["tags"] = {"type": "array", "description": "Tags to add to the contact"}
        return _obj(properties, ["email"])
    properties["tags"] = {
        "type": "array",
        "items": {"type": "string"},
        "description": "Tags to add; prefix a tag with `-` to remove it",
    }
    return _obj({"id": _id("contact"), **properties}, ["id"])


def _company_input(for_update: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {k: _str(k[0].upper() + k[1:]) for k in COMPANY_FIELD_ALIASES}
    fields["numberOfEmployees"] = _int("Number of employees", minimum=0)
    fields["annualRevenue"] = {"type": "number", "minimum": 0, "description": "Annual revenue"}
    if not for_update:
        return _obj(fields, ["name"])
    for key in ("address1", "address2", "city", "state", "zipcode", "country"):
        del fields[key]
    address = _obj(
        {
            "address1": _str("Street address"),
            "address2": _str("Address line 2"),
            "city": _str("City"),
            "state": _str("State or region"),
            "zipcode": _str("Postal code"),
            "country": _str("Country"),
        }
    )
    return {
        "type": "object",
        "definitions": {"address": address},
        "properties": {"id": _id("company"), **fields, "address": {"$ref": "#/definitions/address"}},
        "required": ["id"],
    }


def _get(area: str, description: str) -> dict[str, Any]:
    return {
        "key": f"get-{SINGULAR[area]}",
        "name": f"Get {SINGULAR[area].capitalize()}",
        "area": area,
        "op": "get",
        "type": "find-data-record-by-id",
        "description": description,
        "inputSchema": _obj({"id": _id(SINGULAR[area])}, ["id"]),
        "outputSchema": RECORDS[area],
    }


def _list(area: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": f"list-{area}",
        "name": f"List {area.capitalize()}",
        "area": area,
        "op": "list",
        "type": "list-data-records",
        "description": description,
        "inputSchema": _list_input(area, **extra),
        "outputSchema": _list_output(area),
    }


def _relation(key: str, name: str, area: str, target: str, op: str, description: str) -> dict[str, Any]:
    target_id = f"{SINGULAR[target]}Id"
    return {
        "key": key,
        "name": name,
        "area": area,
        "op": "relation",
        "entity": target,
        "verb": op,
        "type": "connector-operation",
        "description": description,
        "inputSchema": _obj(
            {
                target_id: _id(SINGULAR[target], referenceCollection={"key": target}),
                "contactId": _id("contact", referenceRecords=True),
            },
            [target_id, "contactId"],
        ),
        "outputSchema": _obj({"success": {"type": "boolean"}}, ["success"]),
    }


def _delete(area: str) -> dict[str, Any]:
    what = SINGULAR[area]
    return {
        "key": f"delete-{what}",
        "name": f"Delete {what.capitalize()}",
        "area": area,
        "op": "delete",
        "type": "delete-data-record",
        "description": f"Delete a {what} permanently by its ID.",
        "inputSchema": _obj({"id": _id(what)}, ["id"]),
        "outputSchema": _obj({"id": _int(f"ID of the deleted {what}"), "deleted": {"type": "boolean"}}),
    }


def _build() -> list[dict[str, Any]]:
    get_segment = _get("segments", "Get one segment by its ID, with its alias and filters.")
    get_segment["inputSchema"] = {"properties": {"id": _id("segment")}, "required": ["id"]}
    tag_search = _list("contacts", "")
    return [
        _list("contacts", "List contacts (leads), optionally filtered by search text or a segment alias, and "
              "sorted by a column. Returns a page of records, the total and a cursor for the next page.",
              segment=_str("Only contacts in the segment with this alias, e.g. `newsletter`",
                           referenceCollection={"key": "segments"})),
        _get("contacts", "Get one contact by its ID, with all its fields, points, stage and tags."),
        {"key": "create-contact", "name": "Create Contact", "area": "contacts", "op": "create",
         "type": "create-data-record", "description": "Create a contact, or update the existing contact that "
         "has the same email.", "inputSchema": _contact_input(True), "outputSchema": RECORDS["contacts"]},
        {"key": "update-contact", "name": "Update Contact", "area": "contacts", "op": "update",
         "type": "update-data-record", "description": "Change some fields of a contact; fields left out are "
         "kept.", "inputSchema": _contact_input(False), "outputSchema": RECORDS["contacts"]},
        _delete("contacts"),
        {"key": "list-contact-fields", "name": "List Contact Fields", "area": "contacts", "op": "fields",
         "type": "connector-operation", "description": "List the contact fields (custom fields) defined in "
         "Mautic, with their aliases and types.",
         "outputSchema": _obj({"records": {"type": "array", "items": {"type": "object"}}, "total": _int("")})},
        {"key": "", "name": "Search Contacts by Email", "area": "contacts", "op": "search-email",
         "type": "search-data-records", "description": "Find the contact with an exact email address.",
         "inputSchema": _obj({"email": _str("Exact email address", format="email")}, ["email"]),
         "outputSchema": _list_output("contacts")},
        {"key": "contacts.find-by-tag", "name": "Find Contacts by Tag", "area": "contacts", "op": "find-by-tag",
         "type": "search-data-records", "description": "List contacts that carry a tag.",
         "inputSchema": _obj({"tag": _str("The tag, e.g. `vip`"),
                              "limit": tag_search["inputSchema"]["properties"]["limit"],
                              "cursor": tag_search["inputSchema"]["properties"]["cursor"]}, ["tag"]),
         "outputSchema": _list_output("contacts")},
        {"key": "list-contact-notes", "name": "List Contact Notes", "area": "notes", "op": "contact-related",
         "entity": "notes", "type": "connector-operation",
         "description": "List the notes attached to one contact.",
         "inputSchema": _obj({"contactId": _id("contact")}, ["contactId"]), "outputSchema": _list_output("notes")},
        {"key": "list-contact-segments", "name": "List Contact Segments", "area": "segments",
         "op": "contact-related", "entity": "segments", "type": "connector-operation",
         "description": "List the segments one contact belongs to.",
         "inputSchema": _obj({"contactId": _id("contact")}, ["contactId"]),
         "outputSchema": _list_output("segments")},
        _list("companies", "List companies (accounts), optionally filtered by search text and sorted by a "
              "column."),
        _get("companies", "Get one company by its ID, with all its fields."),
        {"key": "create-company", "name": "Create Company", "area": "companies", "op": "create",
         "type": "create-data-record", "description": "Create a company, or update the existing company that "
         "has the same name.", "inputSchema": _company_input(False), "outputSchema": RECORDS["companies"]},
        {"key": "update-company", "name": "Update Company", "area": "companies", "op": "update",
         "type": "update-data-record", "description": "Change some fields of a company; fields left out are "
         "kept.", "inputSchema": _company_input(True), "outputSchema": RECORDS["companies"]},
        _delete("companies"),
        _relation("add-contact-to-company", "Add Contact to Company", "companies", "companies", "add",
                  "Make a company the contact's primary company."),
        _list("segments", "List segments (contact lists), with their aliases."),
        get_segment,
        {"key": "create-segment", "name": "Create Segment", "area": "segments", "op": "create",
         "type": "create-data-record", "description": "Create a segment that contacts can be added to. A name "
         "already in use makes a second segment with a numbered alias; list segments first to reuse one.",
         "inputSchema": _obj({"name": _str("Name"), "alias": _str("Alias; derived from the name when left out"),
                              "description": _str("Description"), "isPublished": {"type": "boolean", "default": True},
                              "isGlobal": {"type": "boolean", "default": True}}, ["name"]),
         "outputSchema": RECORDS["segments"]},
        _relation("add-contact-to-segment", "Add Contact to Segment", "segments", "segments", "add",
                  "Add a contact to a segment."),
        _relation("remove-contact-from-segment", "Remove Contact from Segment", "segments", "segments", "remove",
                  "Remove a contact from a segment."),
        _list("campaigns", "List marketing automation campaigns."),
        _get("campaigns", "Get one campaign by its ID, with its events."),
        _relation("add-contact-to-campaign", "Add Contact to Campaign", "campaigns", "campaigns", "add",
                  "Add a contact to a campaign."),
        _relation("remove-contact-from-campaign", "Remove Contact from Campaign", "campaigns", "campaigns",
                  "remove", "Remove a contact from a campaign."),
        _list("emails", "List emails (templates and segment emails); each carries its full HTML body."),
        _get("emails", "Get one email by its ID, with its subject and full HTML body."),
        _relation("send-email-to-contact", "Send Email to Contact", "emails", "emails", "send",
                  "Send a published email to one contact now."),
        _list("forms", "List forms, with their fields."),
        _get("forms", "Get one form by its ID, with its fields and actions."),
        _list("stages", "List the lifecycle stages contacts move through."),
        _get("stages", "Get one stage by its ID."),
        _relation("change-contact-stage", "Change Contact Stage", "stages", "stages", "add",
                  "Move a contact to a stage."),
        _list("notes", "List notes recorded on contacts (calls, meetings, emails)."),
        _get("notes", "Get one note by its ID."),
        {"key": "create-note", "name": "Create Note", "area": "notes", "op": "create", "type": "create-data-record",
         "description": "Attach a note to a contact.",
         "inputSchema": _obj({"contactId": _id("contact", referenceRecords=True), "text": _str("Note text"),
                              "type": _str("Kind of note", enum=["general", "call", "email", "meeting"],
                                           default="general"),
                              "dateTime": _str("When it happened; now when left out", format="date-time")},
                             ["contactId", "text"]),
         "outputSchema": RECORDS["notes"]},
        _list("assets", "List downloadable assets (documents, whitepapers) with their download links."),
        _get("assets", "Get one asset by its ID, with its download link."),
    ]  # fmt: skip


_SPECS: list[dict[str, Any]] = []


def specs() -> list[dict[str, Any]]:
    """Every action spec, in catalog order; built on first use."""
    if not _SPECS:
        _SPECS.extend(_build())
    return _SPECS


def action_id(spec: dict[str, Any]) -> str:
    if "id" not in spec:
        import hashlib

        spec["id"] = hashlib.sha1((spec["key"] or spec["name"]).encode()).hexdigest()[:24]
    return str(spec["id"])


def find(id_or_key: str) -> dict[str, Any] | None:
    """Looks an action up by key, then by id."""
    if id_or_key:
        for spec in specs():
            if spec["key"] == id_or_key:
                return spec
        for spec in specs():
            if action_id(spec) == id_or_key:
                return spec
    return None


def action(spec: dict[str, Any], connection_id: str | None = None) -> dict[str, Any]:
    """The Action object as `action list` and `action get` print it."""
    out: dict[str, Any] = {
        "id": action_id(spec),
        "key": spec["key"],
        "name": spec["name"],
        "description": spec["description"],
        "type": spec["type"],
    }
    if "inputSchema" in spec:
        out["inputSchema"] = spec["inputSchema"]
    out["outputSchema"] = spec["outputSchema"]
    out.update(integrationId=integration()["id"], integrationKey="mautic", integration=integration())
    if connection_id:
        out["connectionId"] = connection_id
    out.update(state="READY", createdAt=CREATED_AT, updatedAt=UPDATED_AT)
    return out
