"""`action run`: output shapes, input checking, and agreement with `request` over the same data."""

from __future__ import annotations

import json
import re

import pytest

from tests.sandbox.conftest import CONN, Box


def run_error(box: Box, key: str, payload: str) -> dict:
    done = box.run("action", "run", key, f"--connectionId={CONN}", f"--input={payload}", "--json")
    assert done.code == 1
    assert done.json() == done.error()
    return done.error()


def test_run_output_shape(box: Box) -> None:
    result = box.ok("action", "run", "list-contacts", f"--connectionId={CONN}", "--input={}", "--json")
    assert set(result) == {"output", "actionRunId"} and re.fullmatch(r"[0-9a-f]{24}", result["actionRunId"])
    output = result["output"]
    assert output["total"] == 220 and len(output["records"]) == 30 and output["cursor"]
    record = output["records"][0]
    assert {"id", "firstname", "lastname", "email", "company", "points", "stage", "tags", "dateAdded"} <= set(record)
    assert "fields" not in record and all(isinstance(t, str) for t in record["tags"])


def test_run_without_input_and_with_flag_forms(box: Box) -> None:
    a = box.ok("action", "run", "list-stages", f"--connectionId={CONN}", "--json")["output"]
    b = box.ok("--json", "action", "run", "--connectionId", CONN, "list-stages", "--input", "{}")["output"]
    assert a == b and a["total"] == 4 and "cursor" not in a


def test_run_by_id_and_the_keyless_action(box: Box) -> None:
    keyless = next(a for a in box.ok("action", "list", "--limit=100", "--json")["items"] if a["key"] == "")
    email = box.action("get-contact", {"id": 7})["email"]
    out = box.ok(
        "action", "run", keyless["id"], f"--connectionId={CONN}", f"--input={json.dumps({'email': email})}", "--json"
    )
    assert [r["id"] for r in out["output"]["records"]] == [7]
    assert box.action("contacts.find-by-tag", {"tag": "vip", "limit": 2})["records"]


def test_list_cursor_pages_cover_everything(box: Box) -> None:
    seen, cursor = [], None
    while True:
        page = box.action("list-companies", {"limit": 7, **({"cursor": cursor} if cursor else {})})
        seen += [r["id"] for r in page["records"]]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert seen == list(range(1, 21))


def test_list_filters_and_sorting(box: Box) -> None:
    hot = box.action("list-contacts", {"segment": "hot-leads", "orderBy": "points", "orderByDir": "desc", "limit": 100})
    points = [r["points"] for r in hot["records"]]
    assert points == sorted(points, reverse=True) and min(points) > 120
    published = box.action("list-emails", {"publishedOnly": True})
    assert published["total"] == 7
    companies = box.action("list-companies", {"orderBy": "name", "limit": 3})["records"]
    assert [c["name"] for c in companies] == sorted(c["name"] for c in companies)
    assert {"name", "city", "country", "industry"} <= set(companies[0])


def test_get_create_update_delete(box: Box) -> None:
    created = box.action(
        "create-contact", {"email": "sam@example.com", "firstname": "Sam", "tags": ["vip"], "extra": 1}
    )
    assert created["firstname"] == "Sam" and created["tags"] == ["vip"] and created["id"] == 221
    updated = box.action("update-contact", {"id": created["id"], "lastname": "Okafor", "tags": ["-vip", "partner"]})
    assert updated["lastname"] == "Okafor" and updated["firstname"] == "Sam" and updated["tags"] == ["partner"]
    assert box.action("get-contact", {"id": "221"}) == updated
    assert box.action("delete-contact", {"id": 221}) == {"id": 221, "deleted": True}
    error = run_error(box, "get-contact", '{"id": 221}')
    assert error["type"] == "action_run" and error["key"] == "external_api_error"
    assert error["data"]["status"] == 404 and error["data"]["response"]["errors"][0]["message"] == "Item was not found."


def test_company_ref_address_and_note(box: Box) -> None:
    company = box.action("create-company", {"name": "Zephyr Labs", "industry": "Research", "numberOfEmployees": 12})
    assert company["name"] == "Zephyr Labs" and company["numberOfEmployees"] == 12
    moved = box.action("update-company", {"id": company["id"], "address": {"city": "Nairobi", "country": "Kenya"}})
    assert moved["city"] == "Nairobi" and moved["name"] == "Zephyr Labs"
    note = box.action("create-note", {"contactId": 3, "text": "Asked for a demo", "type": "call"})
    assert note["contactId"] == 3 and note["type"] == "call"
    notes = box.action("list-contact-notes", {"contactId": 3})
    assert note["id"] in [n["id"] for n in notes["records"]]


def test_relations(box: Box) -> None:
    assert box.action("add-contact-to-segment", {"segmentId": 2, "contactId": 1}) == {"success": True}
    assert "hot-leads" in [s["alias"] for s in box.action("list-contact-segments", {"contactId": 1})["records"]]
    assert box.action("remove-contact-from-segment", {"segmentId": 2, "contactId": 1}) == {"success": True}
    assert box.action("add-contact-to-campaign", {"campaignId": 1, "contactId": 1}) == {"success": True}
    assert box.action("send-email-to-contact", {"emailId": 1, "contactId": 1}) == {"success": True}
    assert box.action("change-contact-stage", {"stageId": 3, "contactId": 1}) == {"success": True}
    assert box.action("get-contact", {"id": 1})["stageId"] == 3
    error = run_error(box, "add-contact-to-segment", '{"segmentId": 99, "contactId": 1}')
    assert error["data"]["status"] == 404


def test_action_without_input_schema(box: Box) -> None:
    fields = box.action("list-contact-fields")
    assert "email" in [f["alias"] for f in fields["records"]] and fields["total"] == len(fields["records"])


@pytest.mark.parametrize(
    ("key", "payload", "fragment"),
    [
        ("get-contact", "{}", "Missing required input: id"),
        ("create-contact", '{"firstname": "x"}', "email"),
        ("create-note", '{"contactId": 1}', "text"),
        ("get-contact", '{"id": "seven"}', "integer"),
        ("list-contacts", '{"limit": 0}', "at least 1"),
        ("list-contacts", '{"orderByDir": "up"}', "one of"),
        ("list-contacts", '{"cursor": "bogus"}', "cursor"),
        ("list-contacts", "[1]", "object"),
    ],
)
def test_invalid_input_is_an_action_run_error(box: Box, key: str, payload: str, fragment: str) -> None:
    error = run_error(box, key, payload)
    assert error["type"] == "action_run" and error["key"] == "invalid_input" and fragment in error["message"]


def test_malformed_input_json_and_unknown_action(box: Box) -> None:
    error = run_error(box, "list-contacts", "{not json")
    assert error["type"] == "bad_request"
    done = box.run("action", "run", "no-such-action", f"--connectionId={CONN}", "--json")
    assert done.code == 1 and done.error()["key"] == "not_found"
    done = box.run("action", "run", "list-contacts", "--json")
    assert done.code == 1 and "--connectionId" in done.error()["message"]
    done = box.run("action", "run", "list-contacts", "--connectionId=ffffffffffffffffffffffff", "--json")
    assert done.code == 1 and done.error()["key"] == "not_found"


def test_actions_and_requests_agree(box: Box) -> None:
    created = box.action("create-contact", {"email": "agree@example.com", "city": "Lima"})
    proxied = box.request(f"/api/contacts/{created['id']}").json()["contact"]
    assert proxied["fields"]["all"]["city"] == "Lima" and proxied["fields"]["all"]["email"] == "agree@example.com"
    box.request(f"/api/contacts/{created['id']}/edit", "-X", "PATCH", "--json", "-d", '{"city": "Cusco"}')
    assert box.action("get-contact", {"id": created["id"]})["city"] == "Cusco"
    listed = box.action("list-contacts", {"limit": 5, "orderBy": "email"})
    rows = box.request("/api/contacts", "--query=limit=5", "--query=orderBy=email").json()
    assert [r["id"] for r in listed["records"]] == [int(k) for k in rows["contacts"]]
    assert listed["total"] == int(rows["total"])
