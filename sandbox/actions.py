"""Runs catalog actions by translating their input into Mautic API requests and Mautic's answers into
Membrane-style output, through the same emulation `request` uses, so the two always agree.
"""

from __future__ import annotations

from mautic_mcp.sandbox.catalog import COMPANY_FIELD_ALIASES, SINGULAR
from mautic_mcp.sandbox.errors import CliError
from mautic_mcp.sandbox.routing import handle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.store import Store

MAUTIC_COMPANY = {alias: friendly for friendly, alias in COMPANY_FIELD_ALIASES.items()}


def _invalid(message: str, data: Any = None) -> CliError:
    return CliError("action_run", "invalid_input", message, data)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    return schema


def _coerce(name: str, value: Any, schema: dict[str, Any]) -> Any:
    """Checks one input value against its property schema, accepting obvious string forms of numbers."""
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(f"Input '{name}' must be an integer, got {value!r}.")
    elif kind == "number":
        if isinstance(value, str) and value.strip().replace(".", "", 1).lstrip("-").isdigit():
            value = float(value)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _invalid(f"Input '{name}' must be a number, got {value!r}.")
    elif kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise _invalid(f"Input '{name}' must be true or false, got {value!r}.")
    elif kind == "string":
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise _invalid(f"Input '{name}' must be a string, got {value!r}.")
    elif kind == "object" and not isinstance(value, dict):
        raise _invalid(f"Input '{name}' must be an object, got {value!r}.")
    elif kind == "array" and not isinstance(value, list):
        raise _invalid(f"Input '{name}' must be an array, got {value!r}.")
    if "enum" in schema:
        if isinstance(value, str) and name == "orderByDir":
            value = value.lower()
        if value not in schema["enum"]:
            raise _invalid(f"Input '{name}' must be one of {', '.join(map(str, schema['enum']))}; got {value!r}.")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise _invalid(f"Input '{name}' must be at least {schema['minimum']}, got {value}.")
        if "maximum" in schema and value > schema["maximum"]:
            raise _invalid(f"Input '{name}' must be at most {schema['maximum']}, got {value}.")
    return value


def validate(spec: dict[str, Any], given: Any) -> dict[str, Any]:
    """Required inputs present and typed; unknown inputs dropped, as Membrane ignores them."""
    if not isinstance(given, dict):
        raise _invalid("The action input must be a JSON object.")
    schema = spec.get("inputSchema")
    if schema is None:
        return {}
    properties = schema.get("properties", {})
    missing = [name for name in schema.get("required", []) if given.get(name) in (None, "")]
    if missing:
        raise _invalid(
            f"Missing required input: {', '.join(missing)}. The action '{spec['key'] or spec['name']}' "
            f"needs {', '.join(schema.get('required', []))}.",
            {"missing": missing},
        )
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name in properties and value is not None:
            out[name] = _coerce(name, value, _resolve(properties[name], schema))
    return out


# --- Mautic -> Membrane shapes -----------------------------------------------------------------------------


def flatten(area: str, item: dict[str, Any]) -> dict[str, Any]:
    """One record without Mautic's nesting: contact and company fields at the top, tags as strings."""
    if area == "contacts":
        out: dict[str, Any] = {"id": item["id"]}
        out.update((k, v) for k, v in item.get("fields", {}).get("all", {}).items() if k != "id")
        stage = item.get("stage")
        out.update(
            points=item.get("points", 0),
            stage=stage.get("name") if isinstance(stage, dict) else None,
            stageId=stage.get("id") if isinstance(stage, dict) else None,
            tags=[t.get("tag") if isinstance(t, dict) else t for t in item.get("tags") or []],
            lastActive=item.get("lastActive"),
            dateAdded=item.get("dateAdded"),
            dateModified=item.get("dateModified"),
        )
        return out
    if area == "companies":
        out = {"id": item["id"]}
        fields = item.get("fields", {}).get("all", {})
        out.update((MAUTIC_COMPANY[k], v) for k, v in fields.items() if k in MAUTIC_COMPANY)
        out.update(dateAdded=item.get("dateAdded"), dateModified=item.get("dateModified"))
        return out
    if area == "notes":
        lead = item.get("lead")
        return {
            "id": item["id"],
            "text": item.get("text"),
            "type": item.get("type"),
            "dateTime": item.get("dateTime"),
            "contactId": lead.get("id") if isinstance(lead, dict) else lead,
        }
    return dict(item)


def _rows(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = body.get(key) or []
    return list(rows.values()) if isinstance(rows, dict) else list(rows)


def _cursor(start: int) -> str:
    return f"p{start:x}"


def _start(cursor: str) -> int:
    if len(cursor) < 2 or cursor[0] != "p":
        raise _invalid(f"Input 'cursor' is not a cursor this action returned: {cursor!r}.")
    try:
        return int(cursor[1:], 16)
    except ValueError:
        raise _invalid(f"Input 'cursor' is not a cursor this action returned: {cursor!r}.") from None


class ActionRunner:
    """Runs catalog actions against the store, through the Mautic API emulation."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """One Mautic API call; a failure becomes the `external_api_error` Membrane reports."""
        status, response = handle(self.store, method, path, query or {}, body)
        if status >= 400:
            errors = response.get("errors") if isinstance(response, dict) else None
            message = errors[0].get("message") if errors else f"Mautic API responded with status {status}"
            raise CliError("action_run", "external_api_error", str(message), {"status": status, "response": response})
        return response

    def run(self, spec: dict[str, Any], given: Any) -> Any:
        """The action's output for `given`, after checking it against the action's input schema."""
        data = validate(spec, given)
        return OPERATIONS[spec["op"]](self, spec, data)

    def _page(self, area: str, query: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        start = _start(data["cursor"]) if data.get("cursor") else int(data.get("start") or 0)
        limit = int(data.get("limit") or 30)
        query.update(start=start, limit=limit)
        body = self.call("GET", f"/api/{area}", query)
        records = [flatten(area, r) for r in _rows(body, "lists" if area == "segments" else area)]
        total = int(body.get("total") or 0)
        out: dict[str, Any] = {"records": records, "total": total}
        if records and start + len(records) < total:
            out["cursor"] = _cursor(start + len(records))
        return out

    def _list(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        area = spec["area"]
        search = [data["search"]] if data.get("search") else []
        if data.get("segment"):
            search.append(f"segment:{data['segment']}")
        query: dict[str, Any] = {"search": " ".join(search)}
        if data.get("orderBy"):
            column = data["orderBy"]
            query["orderBy"] = COMPANY_FIELD_ALIASES.get(column, column) if area == "companies" else column
            query["orderByDir"] = str(data.get("orderByDir") or "asc").upper()
        if data.get("publishedOnly"):
            query["published"] = 1
        return self._page(area, query, data)

    def _search_email(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return self._page("contacts", {"search": f'email:"{data["email"]}"'}, {"limit": 30})

    def _find_by_tag(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return self._page("contacts", {"search": f'tag:"{data["tag"]}"'}, data)

    def _get(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        area = spec["area"]
        body = self.call("GET", f"/api/{area}/{data['id']}")
        return flatten(area, body["list" if area == "segments" else SINGULAR[area]])

    def _body(self, area: str, data: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in data.items() if k != "id"}
        if area == "companies":
            address = body.pop("address", None) or {}
            body.update(address)
            body = {COMPANY_FIELD_ALIASES.get(k, k): v for k, v in body.items()}
        elif area == "notes":
            body["lead"] = body.pop("contactId", None)
        return body

    def _single(self, area: str, body: dict[str, Any]) -> dict[str, Any]:
        return flatten(area, body["list" if area == "segments" else SINGULAR[area]])

    def _create(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        area = spec["area"]
        return self._single(area, self.call("POST", f"/api/{area}/new", body=self._body(area, data)))

    def _update(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        area = spec["area"]
        body = self.call("PATCH", f"/api/{area}/{data['id']}/edit", body=self._body(area, data))
        return self._single(area, body)

    def _delete(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        self.call("DELETE", f"/api/{spec['area']}/{data['id']}/delete")
        return {"id": data["id"], "deleted": True}

    def _relation(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        entity = spec["entity"]
        target_id = data[f"{SINGULAR[entity]}Id"]
        self.call("POST", f"/api/{entity}/{target_id}/contact/{data['contactId']}/{spec['verb']}")
        return {"success": True}

    def _fields(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        body = self.call("GET", "/api/fields/contact")
        records = _rows(body, "fields")
        return {"records": records, "total": len(records)}

    def _contact_related(self, spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        entity = spec["entity"]
        body = self.call("GET", f"/api/contacts/{data['contactId']}/{entity}")
        records = [flatten(entity, r) for r in _rows(body, "lists" if entity == "segments" else entity)]
        return {"records": records, "total": len(records)}


# catalog `op` -> what runs it
OPERATIONS: dict[str, Callable[[ActionRunner, dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "list": ActionRunner._list,
    "search-email": ActionRunner._search_email,
    "find-by-tag": ActionRunner._find_by_tag,
    "get": ActionRunner._get,
    "create": ActionRunner._create,
    "update": ActionRunner._update,
    "delete": ActionRunner._delete,
    "relation": ActionRunner._relation,
    "fields": ActionRunner._fields,
    "contact-related": ActionRunner._contact_related,
}
