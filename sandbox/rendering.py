"""How the emulated Mautic shows its records: stored flat records in the nested JSON shapes its API returns."""

from __future__ import annotations

from mautic_mcp.sandbox.entities import COMPANY_FIELD_DEFS, CONTACT_FIELD_DEFS, USER_ID, USER_NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.store import Store


class Renderer:
    """Turns stored flat records into Mautic's response shapes, loading related rows once per request."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stages: dict[int, dict[str, Any]] | None = None
        self._segments: dict[int, dict[str, Any]] | None = None

    def stages(self) -> dict[int, dict[str, Any]]:
        """Stages by id, loaded on first use."""
        if self._stages is None:
            self._stages = {s["id"]: s for s in self.store.all("stages")}
        return self._stages

    def segments(self) -> dict[int, dict[str, Any]]:
        """Segments by id, loaded on first use."""
        if self._segments is None:
            self._segments = {s["id"]: s for s in self.store.all("segments")}
        return self._segments

    def render(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record as Mautic returns it; entities without a shape of their own come back as stored."""
        shape = SHAPES.get(entity)
        return shape(self, record) if shape else dict(record)

    def _contacts(self, r: dict[str, Any]) -> dict[str, Any]:
        """Field values twice, with their definitions under `fields.core` and bare under `fields.all`."""
        core = {
            alias: {"id": i + 1, "group": "core", "label": label, "alias": alias, "type": type_, "value": r.get(alias)}
            for i, (alias, label, type_) in enumerate(CONTACT_FIELD_DEFS)
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
        everything.update((alias, r.get(alias)) for alias, _, _ in CONTACT_FIELD_DEFS)
        everything["points"] = r.get("points", 0)
        stage = self.stages().get(r["stage"]) if r.get("stage") else None
        return {
            "id": r["id"],
            "isPublished": True,
            "dateAdded": r.get("dateAdded"),
            "dateModified": r.get("dateModified"),
            "createdBy": USER_ID,
            "createdByUser": USER_NAME,
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
        """Like a contact: field values under `fields.core` with definitions and under `fields.all`."""
        core = {
            alias: {
                "id": 200 + i,
                "group": "core",
                "label": label,
                "alias": alias,
                "type": type_,
                "value": r.get(alias),
            }
            for i, (alias, label, type_) in enumerate(COMPANY_FIELD_DEFS)
        }
        everything: dict[str, Any] = {"id": r["id"]}
        everything.update((alias, r.get(alias)) for alias, _, _ in COMPANY_FIELD_DEFS)
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
        """Segment ids in `lists` become the segments' id, name and alias."""
        out = dict(r)
        segments = self.segments()
        out["lists"] = [
            {"id": sid, "name": segments[sid]["name"], "alias": segments[sid]["alias"]}
            for sid in r.get("lists") or []
            if sid in segments
        ]
        return out

    def _notes(self, r: dict[str, Any]) -> dict[str, Any]:
        """The contact id in `lead` becomes a summary of that contact."""
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
        """Adds the public download URL Mautic computes."""
        out = dict(r)
        out["downloadUrl"] = f"https://mautic.sandbox.invalid/asset/{r['id']}:{r.get('alias') or ''}"
        return out


# entity -> how Mautic shapes its records; the others are returned as stored
SHAPES: dict[str, Callable[[Renderer, dict[str, Any]], dict[str, Any]]] = {
    "contacts": Renderer._contacts,
    "companies": Renderer._companies,
    "emails": Renderer._emails,
    "notes": Renderer._notes,
    "assets": Renderer._assets,
}


def field_definitions(object_: str) -> dict[str, dict[str, Any]]:
    """`/api/fields/<contact|company>` items by id: contact fields are numbered from 1, company fields from 200."""
    defs = CONTACT_FIELD_DEFS if object_ == "contact" else COMPANY_FIELD_DEFS
    base = 1 if object_ == "contact" else 200
    return {
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
