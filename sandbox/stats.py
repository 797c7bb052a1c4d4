"""Mautic's generic stats route, `GET /api/stats/<table>`, over the store's relation and log tables, and
`GET /api/campaigns/{id}/contacts`, which Mautic answers with the same code on `campaign_leads`.

Rows come as Mautic's database returns them: its column names, every value as text (null stays null),
dates as `Y-m-d H:i:s` in UTC, under `stats` (or the caller's key) with `total` as text. `where[i][col|expr|val]`
filters with Doctrine's expressions, `order[i][col|dir]` sorts, `start` and `limit` (default 100; 0 is Doctrine's
`LIMIT 0`, no rows) page. A bad
clause is reported as Mautic reports it: HTTP 200 with an `errors` list. With no table, or one it does not
know, the answer lists the tables and their columns.
"""

from __future__ import annotations

from mautic_mcp.sandbox.responses import error
from mautic_mcp.sandbox.values import as_list, to_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.responses import Response
    from mautic_mcp.sandbox.store import Store

LIMIT = 100  # the rows a page holds when the caller gives no `limit`, as Mautic's stats route defaults it


def _date(column: str) -> str:
    """An ISO timestamp column as MySQL's `Y-m-d H:i:s`."""
    return f"replace(substr({column}, 1, 19), 'T', ' ')"


# Mautic table -> (the store's FROM clause, Mautic's columns as SQL expressions over it)
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "campaign_leads": (
        "campaign_contacts",
        {
            "campaign_id": "campaign_id",
            "lead_id": "contact_id",
            "date_added": _date("date_added"),
            "manually_removed": "manually_removed",
            "manually_added": "manually_added",
            "date_last_exited": _date("date_last_exited"),
            "rotation": "rotation",
        },
    ),
    "companies_leads": (
        "company_contacts",
        {
            "company_id": "company_id",
            "lead_id": "contact_id",
            "date_added": _date("date_added"),
            "is_primary": "is_primary",
        },
    ),
    "email_stats": (
        "email_sends s LEFT JOIN contacts c ON c.id = s.contact_id",
        {
            "id": "s.id",
            "email_id": "s.email_id",
            "lead_id": "s.contact_id",
            "list_id": "NULL",
            "ip_id": "NULL",
            "email_address": "json_extract(c.data, '$.email')",
            "date_sent": _date("s.date_sent"),
            "is_read": "s.is_read",
            "is_failed": "0",
            "viewed_in_browser": "0",
            "date_read": _date("s.date_read"),
            "tracking_hash": "s.tracking_hash",
            "retry_count": "0",
            "source": "NULL",
            "source_id": "NULL",
            "open_count": "s.is_read",
            "last_opened": _date("s.date_read"),
            "open_details": "NULL",
        },
    ),
    "lead_event_log": (
        "lead_event_log",
        {
            "id": "id",
            "lead_id": "lead_id",
            "user_id": "user_id",
            "user_name": "user_name",
            "bundle": "bundle",
            "object": "object",
            "action": "action",
            "object_id": "object_id",
            "date_added": _date("date_added"),
            "properties": "properties",
        },
    ),
    "lead_lists_leads": (
        "segment_contacts",
        {
            "leadlist_id": "segment_id",
            "lead_id": "contact_id",
            "date_added": _date("date_added"),
            "manually_removed": "0",
            "manually_added": "1",
        },
    ),
    "lead_points_change_log": (
        "lead_points_change_log",
        {
            "id": "id",
            "lead_id": "lead_id",
            "ip_id": "NULL",
            "type": "type",
            "event_name": "event_name",
            "action_name": "action_name",
            "delta": "delta",
            "date_added": _date("date_added"),
        },
    ),
    "lead_stages_change_log": (
        "lead_stages_change_log",
        {
            "id": "id",
            "lead_id": "lead_id",
            "stage_id": "stage_id",
            "event_name": "event_name",
            "action_name": "action_name",
            "date_added": _date("date_added"),
        },
    ),
}
# Doctrine's expressions that compare a column with a value, and those that test the column alone
COMPARE = {
    "eq": "=",
    "neq": "<>",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "like": "LIKE",
    "notLike": "NOT LIKE",
}
ALONE = {
    "isNull": "{c} IS NULL",
    "isNotNull": "{c} IS NOT NULL",
    "isEmpty": "({c} = '' OR {c} IS NULL)",
    "isNotEmpty": "({c} <> '' AND {c} IS NOT NULL)",
}


class ClauseError(Exception):
    """A where or order clause Mautic's repository would refuse; `code` is what Mautic reports with it."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def stats(store: Store, table: str | None, query: dict[str, Any]) -> Response:
    """`GET /api/stats[/<table>]`."""
    name = (table or "").strip().lower()
    if name not in TABLES:
        return 200, {
            "availableTables": sorted(TABLES),
            "tableColumns": {t: sorted(columns) for t, (_, columns) in sorted(TABLES.items())},
        }
    return rows(store, name, "stats", query, [])


def campaign_contacts(store: Store, campaign_id: int, query: dict[str, Any]) -> Response:
    """`GET /api/campaigns/{id}/contacts`: the campaign's current members from `campaign_leads`."""
    if store.get("campaigns", campaign_id) is None:
        return error(404)
    forced = [
        {"col": "campaign_id", "expr": "eq", "val": campaign_id},
        {"col": "manually_removed", "expr": "eq", "val": 0},
    ]
    return rows(store, "campaign_leads", "contacts", query, forced)


def rows(store: Store, table: str, key: str, query: dict[str, Any], forced: list[dict[str, Any]]) -> Response:
    """One page of a table's rows under `key`, filtered by the caller's `where` and `forced`; `limit` defaults
    to LIMIT."""
    source, columns = TABLES[table]
    try:
        where, params = _where([*_clauses(query.get("where")), *forced], columns)
        order = _order(query, columns)
    except ClauseError as exc:
        return 200, {"errors": [{"message": str(exc), "code": exc.code}]}
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in columns.items())
    inner = f"(SELECT {select} FROM {source})"
    clause = f" WHERE {where}" if where else ""
    total = store.conn.execute(f"SELECT count(*) FROM {inner}{clause}", params).fetchone()[0]
    found = store.conn.execute(
        f"SELECT * FROM {inner}{clause}{f' ORDER BY {order}' if order else ''} LIMIT ? OFFSET ?",
        [*params, max(to_int(query.get("limit"), LIMIT), 0), max(to_int(query.get("start"), 0), 0)],
    ).fetchall()
    names = list(columns)
    out = [{n: None if v is None else str(v) for n, v in zip(names, row, strict=True)} for row in found]
    return 200, {"total": str(total), key: out}


def _clauses(given: Any) -> list[Any]:
    """`where` as the caller sent it: `where[0][col]=…` pairs, a list, or JSON text of either."""
    if isinstance(given, str) and given.strip()[:1] in ("[", "{"):
        import json

        try:
            given = json.loads(given)
        except ValueError:
            raise ClauseError("where must be an array of {col, expr, val} clauses.") from None
    if isinstance(given, dict) and "expr" in given:
        return [given]
    return as_list(given) if isinstance(given, list | dict) else []


def _column(clause: dict[str, Any], columns: dict[str, str], where: str) -> str:
    """The clause's column, cleaned as Mautic's repository cleans it, and known to the table."""
    given = str(clause.get("col") or clause.get("column") or "")
    column = "".join(c for c in given if c.isalnum() or c in "_.").rpartition(".")[2]
    if column not in columns:
        raise ClauseError(
            "An exception occurred while executing a query: SQLSTATE[42S22]: Column not found: 1054 "
            f"Unknown column '{column}' in '{where} clause'",
            1054,
        )
    return f'"{column}"'


def _value(value: Any) -> Any:
    """Numbers compare as numbers, as MySQL compares a number column with a numeric string."""
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 19 else value


def _where(clauses: list[Any], columns: dict[str, str], glue: str = " AND ") -> tuple[str, list[Any]]:
    """Doctrine's `buildWhereClauseFromArray`: comparisons, `in`, `between`, null tests, nested `andX`/`orX`;
    an expression Doctrine does not have is ignored, as Mautic ignores it."""
    terms: list[str] = []
    params: list[Any] = []
    for clause in clauses:
        if not isinstance(clause, dict) or not clause.get("expr"):
            raise ClauseError('"expr" is missing in the where clause array.')
        expr = str(clause["expr"])
        value = clause.get("val", clause.get("value", ""))
        if expr in ("andX", "orX"):
            inner, inner_params = _where(as_list(value), columns, " AND " if expr == "andX" else " OR ")
            if inner:
                terms.append(f"({inner})")
                params.extend(inner_params)
            continue
        if not clause.get("col") and not clause.get("column"):
            raise ClauseError('"col" is missing in the where clause array.')
        column = _column(clause, columns, "where")
        if expr in COMPARE:
            terms.append(f"{column} {COMPARE[expr]} ?")
            params.append(_value(value))
        elif expr in ALONE:
            terms.append(ALONE[expr].format(c=column))
        elif expr in ("in", "notIn"):
            values = [_value(v) for v in as_list(value)] or [""]
            terms.append(f"{column} {'NOT IN' if expr == 'notIn' else 'IN'} ({', '.join('?' * len(values))})")
            params.extend(values)
        elif expr in ("between", "notBetween"):
            bounds = as_list(value)
            if len(bounds) == 2:
                terms.append(f"{column} {'NOT ' if expr == 'notBetween' else ''}BETWEEN ? AND ?")
                params.extend(_value(b) for b in bounds)
    return glue.join(terms), params


def _order(query: dict[str, Any], columns: dict[str, str]) -> str:
    """`order[i][col|dir]`; also a bare `[col, dir]` pair or `orderBy`/`orderByDir`, which callers try."""
    given = as_list(query.get("order"))
    if given and all(isinstance(item, str) for item in given):
        given = [{"col": given[0], "dir": given[1] if len(given) > 1 else "ASC"}]
    if not given and query.get("orderBy"):
        given = [{"col": query["orderBy"], "dir": query.get("orderByDir") or "ASC"}]
    terms = []
    for clause in given:
        if not isinstance(clause, dict) or not clause.get("col"):
            raise ClauseError('"col" is missing in the order by clause array.')
        column = _column(clause, columns, "order")
        direction = "".join(c for c in str(clause.get("dir") or "ASC") if c.isalnum()).upper()
        if direction not in ("ASC", "DESC"):
            raise ClauseError(
                "An exception occurred while executing a query: SQLSTATE[42000]: Syntax error or access "
                f"violation: 1064 You have an error in your SQL syntax near '{direction}'",
                1064,
            )
        terms.append(f"{column} {direction}")
    return ", ".join(terms)
