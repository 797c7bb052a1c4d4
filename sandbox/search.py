"""Lists in the emulated Mautic: its search-string syntax as SQL terms, sorting and paging."""

from __future__ import annotations

from mautic_mcp.sandbox.rendering import Renderer
from mautic_mcp.sandbox.responses import error
from mautic_mcp.sandbox.values import to_int, truthy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.entities import Entity
    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store


def _tokens(search: str) -> list[str]:
    """Splits a Mautic search string on spaces, keeping "quoted phrases" whole."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
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
                ids = [to_int(v, 0) for v in value.split(",")]
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
    """`GET /api/<entity>`: one page, filtered by `search` and `published`, sorted by `orderBy`/`orderByDir`."""
    where, params = _search_clause(entity.name, str(query.get("search") or ""))
    if truthy(query.get("published", "")):
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
        entity.name, " AND ".join(where), params, order, to_int(query.get("limit"), 30), to_int(query.get("start"), 0)
    )
    renderer = Renderer(store)
    rows = {str(r["id"]): renderer.render(entity.name, r) for r in records}
    return 200, {"total": str(total), entity.list_key: rows or []}
