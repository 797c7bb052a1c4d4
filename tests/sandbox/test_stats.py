"""`GET /api/stats/<table>` and `GET /api/campaigns/{id}/contacts`: raw rows as Mautic's database returns them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mautic_mcp.sandbox.stats import TABLES
from mautic_mcp.sandbox.store import Store
from tests.sandbox.conftest import Box, call, get

MYSQL_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
CAMPAIGN_LEAD = {
    "campaign_id",
    "lead_id",
    "date_added",
    "manually_removed",
    "manually_added",
    "date_last_exited",
    "rotation",
}


def where(*clauses: tuple[str, str, Any]) -> list[dict[str, Any]]:
    return [{"col": col, "expr": expr, "val": val} for col, expr, val in clauses]


def test_without_a_table_it_lists_the_tables(db: Store) -> None:
    status, body = get(db, "/api/stats")
    assert status == 200 and set(body) == {"availableTables", "tableColumns"}
    assert {"email_stats", "campaign_leads", "lead_event_log"} <= set(body["availableTables"])
    assert body["tableColumns"]["campaign_leads"] == sorted(CAMPAIGN_LEAD)
    assert get(db, "/api/stats/page_hits")[1] == body


def test_email_stats_rows(db: Store) -> None:
    status, body = get(db, "/api/stats/email_stats", limit=5)
    assert status == 200 and body["total"] == "110" and len(body["stats"]) == 5
    row = body["stats"][0]
    assert list(row) == list(TABLES["email_stats"][1])
    assert {"email_id", "lead_id", "date_sent", "is_read", "date_read", "tracking_hash", "email_address"} <= set(row)
    assert all(value is None or isinstance(value, str) for value in row.values())
    assert MYSQL_DATE.match(row["date_sent"])
    contact = get(db, f"/api/contacts/{row['lead_id']}")[1]["contact"]
    assert row["email_address"] == contact["fields"]["all"]["email"]


def test_email_counts_agree_with_the_stats(db: Store) -> None:
    for email in get(db, "/api/emails", limit=0)[1]["emails"].values():
        mine = where(("email_id", "eq", email["id"]))
        assert get(db, "/api/stats/email_stats", where=mine)[1]["total"] == str(email["sentCount"])
        read = where(("email_id", "eq", email["id"]), ("is_read", "eq", 1))
        rows = get(db, "/api/stats/email_stats", where=read, limit=0)
        assert rows[1]["total"] == str(email["readCount"])
    assert call(db, "POST", "/api/emails/1/contact/3/send")[0] == 200
    email = get(db, "/api/emails/1")[1]["email"]
    mine = where(("email_id", "eq", 1))
    assert get(db, "/api/stats/email_stats", where=mine)[1]["total"] == str(email["sentCount"])
    latest = get(db, "/api/stats/email_stats", where=mine, order=[{"col": "id", "dir": "DESC"}], limit=1)
    row = latest[1]["stats"][0]
    assert (row["lead_id"], row["is_read"], row["date_read"]) == ("3", "0", None)
    assert email["readCount"] == int(
        get(db, "/api/stats/email_stats", where=[*mine, *where(("is_read", "eq", "1"))])[1]["total"]
    )


def test_where_expressions(db: Store) -> None:
    def total(*clauses: dict[str, Any]) -> int:
        status, body = get(db, "/api/stats/email_stats", where=list(clauses), limit=0)
        assert status == 200 and "errors" not in body, body
        return int(body["total"])

    everything = total()
    assert total(*where(("email_id", "in", "1,2"))) == total(*where(("email_id", "eq", 1))) + total(
        *where(("email_id", "eq", 2))
    )
    assert total(*where(("email_id", "notIn", [1, 2]))) == everything - total(*where(("email_id", "in", [1, 2])))
    assert total(*where(("date_read", "isNull", ""))) == total(*where(("is_read", "eq", 0)))
    assert total(*where(("lead_id", "between", ["1", "50"]))) == total(
        *where(("lead_id", "gte", 1), ("lead_id", "lte", 50))
    )
    assert total(*where(("email_address", "like", "%@gmail.example"))) > 0
    either = {"expr": "orX", "val": where(("email_id", "eq", 1), ("email_id", "eq", 2))}
    assert total(either) == total(*where(("email_id", "in", "1,2")))
    assert total(*where(("email_id", "shrug", 1))) == everything  # Doctrine has no such expression: ignored
    assert total(*where(("es.email_id", "eq", 1))) == total(*where(("email_id", "eq", 1)))


def test_paging_and_ordering(db: Store) -> None:
    order = [{"col": "date_sent", "dir": "DESC"}]
    everything = get(db, "/api/stats/email_stats", order=order, limit=0)[1]
    assert everything["stats"] == []  # limit 0 is LIMIT 0 on this route, as with Doctrine
    all_rows = get(db, "/api/stats/email_stats", order=order, limit=500)[1]["stats"]
    dates = [r["date_sent"] for r in all_rows]
    assert dates == sorted(dates, reverse=True) and len(all_rows) == 110
    page = get(db, "/api/stats/email_stats", order=order, start=10, limit=5)[1]["stats"]
    assert page == all_rows[10:15]
    assert len(get(db, "/api/stats/lead_event_log")[1]["stats"]) == 100


@pytest.mark.parametrize(
    ("query", "fragment", "code"),
    [
        ({"where": where(("shoe_size", "eq", 1))}, "Unknown column 'shoe_size'", 1054),
        ({"where": [{"col": "email_id", "val": 1}]}, '"expr" is missing', 0),
        ({"where": [{"expr": "eq", "val": 1}]}, '"col" is missing', 0),
        ({"order": [{"dir": "ASC"}]}, '"col" is missing in the order by', 0),
        ({"order": [{"col": "id", "dir": "sideways"}]}, "1064", 1064),
        ({"where": "[not json"}, "where must be", 0),
    ],
)
def test_bad_clauses_answer_200_with_errors(db: Store, query: dict[str, Any], fragment: str, code: int) -> None:
    status, body = get(db, "/api/stats/email_stats", **query)
    assert status == 200 and set(body) == {"errors"}
    assert fragment in body["errors"][0]["message"] and body["errors"][0]["code"] == code


def test_campaign_contacts(db: Store) -> None:
    status, body = get(db, "/api/campaigns/2/contacts")
    assert status == 200 and isinstance(body["total"], str) and int(body["total"]) == len(body["contacts"]) > 2
    for row in body["contacts"]:
        assert set(row) == CAMPAIGN_LEAD and row["campaign_id"] == "2" and row["manually_removed"] == "0"
        assert MYSQL_DATE.match(row["date_added"])
    members = {row["lead_id"] for row in body["contacts"]}
    for lead_id in members:
        assert "2" in get(db, f"/api/contacts/{lead_id}/campaigns")[1]["campaigns"]
    page = get(db, "/api/campaigns/2/contacts", start=1, limit=2, orderBy="lead_id", orderByDir="DESC")[1]
    ordered = sorted(members, key=int, reverse=True)
    assert [r["lead_id"] for r in page["contacts"]] == ordered[1:3] and page["total"] == body["total"]
    same = get(db, "/api/campaigns/2/contacts", start=1, limit=2, order=[{"col": "lead_id", "dir": "DESC"}])[1]
    assert same == page


def test_campaign_removal_is_kept_as_mautic_keeps_it(db: Store) -> None:
    before = int(get(db, "/api/campaigns/3/contacts")[1]["total"])
    assert call(db, "POST", "/api/campaigns/3/contact/5/add")[0] == 200
    assert int(get(db, "/api/campaigns/3/contacts")[1]["total"]) == before + 1
    assert call(db, "POST", "/api/campaigns/3/contact/5/remove")[0] == 200
    assert int(get(db, "/api/campaigns/3/contacts")[1]["total"]) == before
    assert "3" not in (get(db, "/api/contacts/5/campaigns")[1]["campaigns"] or {})
    mine = where(("campaign_id", "eq", 3), ("lead_id", "eq", 5))
    [row] = get(db, "/api/stats/campaign_leads", where=mine)[1]["stats"]
    assert (row["manually_removed"], row["manually_added"], row["rotation"]) == ("1", "0", "1")
    assert call(db, "POST", "/api/campaigns/3/contact/5/add")[0] == 200
    [row] = get(db, "/api/stats/campaign_leads", where=mine)[1]["stats"]
    assert (row["manually_removed"], row["manually_added"], row["rotation"]) == ("0", "1", "2")
    assert "3" in get(db, "/api/contacts/5/campaigns")[1]["campaigns"]


def test_campaign_contacts_errors(db: Store) -> None:
    status, body = get(db, "/api/campaigns/99999/contacts")
    assert status == 404 and body["errors"][0]["message"] == "Item was not found."
    assert call(db, "POST", "/api/campaigns/2/contacts")[0] == 405
    assert call(db, "POST", "/api/stats/email_stats")[0] == 405


def test_through_the_cli(box: Box) -> None:
    body = box.request(
        "/api/stats/email_stats",
        "--query=where[0][col]=email_id",
        "--query=where[0][expr]=eq",
        "--query=where[0][val]=2",
        "--query=order[0][col]=id",
        "--query=order[0][dir]=DESC",
        "--query=limit=3",
    ).json()
    assert [r["email_id"] for r in body["stats"]] == ["2"] * len(body["stats"]) and body["stats"]
    ids = [int(r["id"]) for r in body["stats"]]
    assert ids == sorted(ids, reverse=True)
    url = "/api/campaigns/1/contacts?limit=1&where%5B0%5D%5Bcol%5D=lead_id&where%5B0%5D%5Bexpr%5D=gt"
    url += "&where%5B0%5D%5Bval%5D=0"
    assert len(box.request(url).json()["contacts"]) == 1
    error = box.request("/api/campaigns/99999/contacts").error()
    assert error["data"]["status"] == 404
