"""The entities of the emulated Mautic: their field definitions, API keys, writable fields with defaults,
required fields and sortable columns, the tables that hold contact memberships, and the API user the writes
are made as. Data only.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The API user every write is made as (the change logs' `user_id`, `user_name`); contacts show it as `createdBy`.
USER_ID = 1
USER_NAME = "Sandbox Admin"
# (alias, label, type) of each field this Mautic instance has, all in the "core" group.
CONTACT_FIELD_DEFS = (
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
COMPANY_FIELD_DEFS = (
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
    """Writable fields: the named ones default to None, the keyword ones to their value."""
    return {**dict.fromkeys(names), **extra}


ENTITIES = {
    e.name: e
    for e in (
        Entity(
            "contacts",
            "contact",
            "contacts",
            _defaults(*(f[0] for f in CONTACT_FIELD_DEFS), points=0, stage=None, tags=[], lastActive=None),
            ("email",),
            ("firstname", "lastname", "email", "company", "position", "city", "country", "points", "lastActive"),
            upsert=True,
        ),
        Entity(
            "companies",
            "company",
            "companies",
            _defaults(*(f[0] for f in COMPANY_FIELD_DEFS)),
            ("companyname",),
            tuple(f[0] for f in COMPANY_FIELD_DEFS if f[0] != "companydescription"),
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
# entity -> (table of its contact memberships, column holding the entity's id)
RELATIONS = {
    "segments": ("segment_contacts", "segment_id"),
    "campaigns": ("campaign_contacts", "campaign_id"),
    "companies": ("company_contacts", "company_id"),
}
