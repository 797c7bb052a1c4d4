"""Batch writes: `/api/<entity>/batch/{new,edit,delete}` and `POST /api/segments/{id}/contacts/add`, item by item."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mautic_mcp.sandbox.batch import BATCH_LIMIT
from mautic_mcp.sandbox.store import Store
from tests.sandbox.conftest import Box, call, get

TOO_MANY = {
    "errors": [{"code": 500, "message": "A max of 200 entities are supported at a time.", "details": [], "type": None}]
}


def count(db: Store, table: str = "contacts") -> int:
    return int(db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def email_of(contact: dict[str, Any]) -> str:
    return str(contact["fields"]["all"]["email"])


def test_new_writes_good_items_and_reports_the_bad_one(db: Store) -> None:
    before = count(db)
    items = [{"email": "one@example.com", "firstname": "One"}, {"email": "not-an-email"}, {"email": "two@example.com"}]
    status, body = call(db, "POST", "/api/contacts/batch/new", items)
    assert status == 201 and set(body) == {"contacts", "statusCodes", "errors"}
    assert body["statusCodes"] == [201, 422, 201]
    assert list(body["contacts"]) == ["0", "2"]  # a PHP array with a hole is a JSON object
    assert email_of(body["contacts"]["0"]) == "one@example.com"
    assert list(body["errors"]) == ["1"]
    assert body["errors"]["1"]["code"] == 422 and body["errors"]["1"]["details"] == {
        "email": ["A valid email is required."]
    }
    assert count(db) == before + 2
    made = body["contacts"]["2"]["id"]
    assert email_of(get(db, f"/api/contacts/{made}")[1]["contact"]) == "two@example.com"


def test_new_answers_a_list_when_every_item_is_good_and_upserts(db: Store) -> None:
    taken = email_of(get(db, "/api/contacts/7")[1]["contact"])
    status, body = call(
        db, "POST", "/api/contacts/batch/new", [{"email": "fresh@example.com"}, {"email": taken, "city": "Lima"}]
    )
    assert status == 201 and "errors" not in body
    assert body["statusCodes"] == [201, 200] and isinstance(body["contacts"], list)
    assert body["contacts"][1]["id"] == 7 and body["contacts"][1]["fields"]["all"]["city"] == "Lima"


def test_first_item_failing_makes_errors_a_list(db: Store) -> None:
    status, body = call(db, "POST", "/api/contacts/batch/new", [{"firstname": "NoEmail"}, "not an object"])
    assert status == 201 and body["contacts"] == [] and body["statusCodes"] == [422, 400]
    assert isinstance(body["errors"], list) and body["errors"][1]["code"] == 400


@pytest.mark.parametrize("body", [None, "text", 5, {"email": "single@example.com"}])
def test_a_body_that_is_not_an_array_is_a_bad_request(db: Store, body: Any) -> None:
    for method, path in (("POST", "/api/contacts/batch/new"), ("PATCH", "/api/contacts/batch/edit")):
        status, answer = call(db, method, path, body)
        assert status == 400 and "JSON array of contacts" in answer["errors"][0]["message"]


def test_the_batch_limit(db: Store) -> None:
    before = count(db)
    items = [{"email": f"bulk{i}@example.com"} for i in range(BATCH_LIMIT + 1)]
    assert call(db, "POST", "/api/contacts/batch/new", items) == (500, TOO_MANY)
    assert call(db, "PATCH", "/api/contacts/batch/edit", [{"id": 1}] * (BATCH_LIMIT + 1)) == (500, TOO_MANY)
    assert count(db) == before
    status, body = call(db, "POST", "/api/contacts/batch/new", items[:BATCH_LIMIT])
    assert status == 201 and body["statusCodes"] == [201] * BATCH_LIMIT and count(db) == before + BATCH_LIMIT


def test_edit_patch(db: Store) -> None:
    items = [{"id": 3, "city": "Quito"}, {"id": 99999, "city": "Nowhere"}, {"city": "no id"}, {"id": 4, "email": "bad"}]
    status, body = call(db, "PATCH", "/api/contacts/batch/edit", items)
    assert status == 200 and body["statusCodes"] == [200, 404, 404, 422]
    assert body["contacts"][0]["fields"]["all"]["city"] == "Quito"
    assert body["errors"]["1"] == {"message": "Item was not found.", "code": 404, "type": "api"}
    assert body["errors"]["3"]["details"] == {"email": ["A valid email is required."]}
    assert get(db, "/api/contacts/3")[1]["contact"]["fields"]["all"]["city"] == "Quito"
    assert get(db, "/api/contacts/4")[1]["contact"]["fields"]["all"]["email"] != "bad"


def test_edit_put_creates_missing_and_replaces_existing(db: Store) -> None:
    before = count(db)
    items = [{"id": 99999, "email": "put-new@example.com"}, {"id": 5, "email": "put-five@example.com"}]
    status, body = call(db, "PUT", "/api/contacts/batch/edit", items)
    assert status == 200 and body["statusCodes"] == [201, 200] and count(db) == before + 1
    assert body["contacts"][0]["id"] != 99999
    five = get(db, "/api/contacts/5")[1]["contact"]["fields"]["all"]
    assert five["email"] == "put-five@example.com" and five["lastname"] is None


def test_delete(db: Store) -> None:
    status, body = call(db, "DELETE", "/api/contacts/batch/delete", ids="8,99999,9")
    assert status == 200 and list(body["contacts"]) == ["0", "2"] and body["contacts"]["2"]["id"] == 9
    assert body["errors"] == {"1": {"message": "Item was not found.", "code": 404, "type": "api"}}
    assert get(db, "/api/contacts/8")[0] == get(db, "/api/contacts/9")[0] == 404


def test_other_entities_batch_too(db: Store) -> None:
    status, body = call(db, "POST", "/api/companies/batch/new", [{"companyname": "Batch Co"}, {"companyemail": "x"}])
    assert status == 201 and body["statusCodes"] == [201, 422] and "companies" in body
    status, body = call(db, "POST", "/api/segments/batch/new", [{"name": "Hot Leads"}])
    assert body["lists"][0]["alias"] == "hot-leads1"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/contacts/batch/new", 405),
        ("POST", "/api/contacts/batch/edit", 405),
        ("POST", "/api/contacts/batch/delete", 405),
        ("POST", "/api/contacts/batch/explode", 404),
        ("GET", "/api/segments/1/contacts/add", 405),
    ],
)
def test_batch_route_errors(db: Store, method: str, path: str, status: int) -> None:
    assert call(db, method, path, [])[0] == status


def test_add_contacts_to_a_segment(db: Store) -> None:
    status, body = call(db, "POST", "/api/segments/3/contacts/add", {"ids": [1, 99999, "abc", 2]})
    assert status == 200 and body == {
        "success": 1,
        "details": {
            "1": {"success": True},
            "99999": {"success": False},
            "abc": {"success": False},
            "2": {"success": True},
        },
    }
    members = get(db, "/api/contacts", search="segment:customers", limit=0)[1]["contacts"]
    assert {"1", "2"} <= set(members)
    assert "3" in get(db, "/api/contacts/1/segments")[1]["lists"]
    assert call(db, "POST", "/api/segments/3/contacts/add", {"ids": "4,5"})[1]["details"] == {
        "4": {"success": True},
        "5": {"success": True},
    }
    assert call(db, "POST", "/api/segments/3/contacts/add", {"ids": []}) == (200, {"success": 1, "details": []})


def test_add_contacts_to_a_segment_errors(db: Store) -> None:
    status, body = call(db, "POST", "/api/segments/3/contacts/add", {"contacts": [1]})
    assert status == 400 and body["errors"][0]["message"] == "This is a bad request."
    assert call(db, "POST", "/api/segments/99999/contacts/add", {"ids": [1]})[0] == 404
    assert call(db, "POST", "/api/segments/99999/contacts/add", None)[0] == 400


def test_batch_writes_are_seen_by_reads_and_actions(box: Box) -> None:
    items = [{"email": "seen1@example.com", "firstname": "Seen"}, {"email": "broken"}, {"email": "seen2@example.com"}]
    done = box.request("/api/contacts/batch/new", "-X", "POST", "--json", "-d", json.dumps(items))
    assert done.code == 0, done.err
    body = done.json()
    assert body["statusCodes"] == [201, 422, 201]
    new_ids = [body["contacts"]["0"]["id"], body["contacts"]["2"]["id"]]
    patch = [{"id": new_ids[0], "city": "Reykjavik"}]
    assert box.request("/api/contacts/batch/edit", "-X", "PATCH", "--json", "-d", json.dumps(patch)).code == 0
    added = box.request("/api/segments/5/contacts/add", "-X", "POST", "-d", f"ids[]={new_ids[0]}&ids[]={new_ids[1]}")
    assert added.json()["details"] == {str(i): {"success": True} for i in new_ids}
    found = box.action("list-contacts", {"search": "seen", "limit": 10})
    assert sorted(r["id"] for r in found["records"]) == new_ids and found["total"] == 2
    assert box.action("get-contact", {"id": new_ids[0]})["city"] == "Reykjavik"
    in_segment = box.action("list-contacts", {"segment": "europe", "limit": 100, "orderBy": "id", "orderByDir": "desc"})
    assert set(new_ids) <= {r["id"] for r in in_segment["records"]}
    listed = box.request("/api/contacts", "--query=search=email:seen2@example.com").json()
    assert list(listed["contacts"]) == [str(new_ids[1])]
    timeline = box.request(f"/api/contacts/{new_ids[0]}/activity").json()
    assert {e["event"] for e in timeline["events"]} == {"lead.source.identified", "segment_membership"}
    identified = next(e for e in timeline["events"] if e["event"] == "lead.source.identified")
    clause = ("--query=where[0][col]=lead_id", "--query=where[0][expr]=eq", f"--query=where[0][val]={new_ids[0]}")
    log = box.request("/api/stats/lead_event_log", *clause).json()
    assert identified["eventId"] == f"lead.source.identified{log['stats'][0]['id']}"
    assert log["stats"][0]["object"] == "api-batch"


def test_too_many_through_the_cli(box: Box) -> None:
    items = [{"email": f"cli{i}@example.com"} for i in range(BATCH_LIMIT + 1)]
    done = box.request("/api/contacts/batch/new", "-X", "POST", "--json", "-d", json.dumps(items))
    assert done.code == 1 and done.out == ""
    error = done.error()
    assert error["data"]["status"] == 500 and error["data"]["response"] == TOO_MANY
    assert box.request("/api/contacts", "--query=search=cli0@example.com").json()["total"] == "0"
