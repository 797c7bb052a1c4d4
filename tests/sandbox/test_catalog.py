"""The action catalog: Action shapes, ids, the deliberate quirks, intent ranking and paging."""

from __future__ import annotations

import hashlib
import re

import pytest

from mautic_mcp.sandbox import catalog, ranking
from tests.sandbox.conftest import CONN, Box

REQUIRED_ACTIONS = (
    "list-contacts",
    "get-contact",
    "create-contact",
    "update-contact",
    "delete-contact",
    "list-companies",
    "get-company",
    "create-company",
    "update-company",
    "delete-company",
    "list-segments",
    "get-segment",
    "list-campaigns",
    "get-campaign",
    "list-emails",
    "get-email",
    "list-forms",
    "get-form",
    "list-stages",
    "get-stage",
    "list-notes",
    "get-note",
    "create-note",
    "list-assets",
    "get-asset",
    "add-contact-to-segment",
    "remove-contact-from-segment",
    "add-contact-to-campaign",
    "send-email-to-contact",
)
ACTION_FIELDS = {"id", "key", "name", "description", "type", "outputSchema", "integrationKey", "createdAt", "updatedAt"}
AREAS = ("contacts", "companies", "segments", "campaigns", "emails", "forms", "stages", "notes", "assets")


def all_actions(box: Box, *options: str) -> list[dict]:
    items, cursor = [], None
    while True:
        page = box.ok("action", "list", "--limit=100", *options, *([f"--cursor={cursor}"] if cursor else []), "--json")
        items += page["items"]
        cursor = page.get("cursor")
        if not cursor:
            return items


def test_every_action_has_membrane_fields(box: Box) -> None:
    actions = all_actions(box, f"--connectionId={CONN}")
    keys = {a["key"] for a in actions}
    assert set(REQUIRED_ACTIONS) <= keys
    for action in actions:
        assert set(action) >= ACTION_FIELDS, action["key"]
        assert re.fullmatch(r"[0-9a-f]{24}", action["id"])
        assert action["id"] == hashlib.sha1((action["key"] or action["name"]).encode()).hexdigest()[:24]
        assert action["integrationKey"] == "mautic" and action["connectionId"] == CONN
        assert action["type"] in {
            "connector-operation", "list-data-records", "find-data-record-by-id", "create-data-record",
            "update-data-record", "delete-data-record", "search-data-records",
        }  # fmt: skip
    assert len({a["id"] for a in actions}) == len(actions)
    assert [a["key"] for a in actions] == sorted(a["key"] for a in actions)


def test_action_get_by_key_and_id(box: Box) -> None:
    by_key = box.ok("action", "get", "list-contacts", "--json")
    assert box.ok("action", "get", by_key["id"], "--json") == by_key
    assert by_key["inputSchema"]["properties"]["limit"] == {
        "type": "integer", "description": "Records per page", "minimum": 1, "maximum": 100, "default": 30
    }  # fmt: skip
    done = box.run("action", "get", "no-such-action", "--json")
    assert done.code == 1 and done.error()["key"] == "not_found"


def test_required_inputs_are_marked() -> None:
    required = {s["key"]: s.get("inputSchema", {}).get("required", []) for s in catalog.specs()}
    assert required["get-contact"] == ["id"] and required["get-asset"] == ["id"]
    assert required["create-contact"] == ["email"]
    assert required["create-company"] == ["name"]
    assert set(required["create-note"]) == {"contactId", "text"}
    assert set(required["add-contact-to-segment"]) == {"segmentId", "contactId"}


def test_catalog_quirks_are_present() -> None:
    specs = {s["key"]: s for s in catalog.specs()}
    assert specs["create-contact"]["inputSchema"]["properties"]["tags"] == {
        "type": "array", "description": "Tags to add to the contact"
    }  # fmt: skip
    ip = specs["create-contact"]["inputSchema"]["properties"]["ipAddress"]
    assert ip["writeOnly"] is True and ip["isSensitive"] is True
    company = specs["create-contact"]["inputSchema"]["properties"]["company"]
    assert company["allowCustom"] is True and "referenceCollection" in company
    assert specs["add-contact-to-segment"]["inputSchema"]["properties"]["contactId"]["referenceRecords"] is True
    assert "inputSchema" not in specs["list-contact-fields"]
    assert specs[""]["name"] == "Search Contacts by Email"
    assert specs[""]["inputSchema"]["required"] == ["email"]
    assert "contacts.find-by-tag" in specs
    update_company = specs["update-company"]["inputSchema"]
    assert update_company["properties"]["address"] == {"$ref": "#/definitions/address"}
    assert "city" in update_company["definitions"]["address"]["properties"]
    assert "type" not in specs["get-segment"]["inputSchema"]
    assert specs["get-segment"]["inputSchema"]["properties"]["id"]["type"] == "integer"


def test_create_segment_says_a_taken_name_gets_a_numbered_alias() -> None:
    [spec] = [s for s in catalog.specs() if s["key"] == "create-segment"]
    assert "numbered alias" in spec["description"] and "list segments first" in spec["description"]


def test_list_inputs_offer_paging_and_sorting() -> None:
    for spec in catalog.specs():
        if spec["op"] != "list":
            continue
        props = spec["inputSchema"]["properties"]
        assert {"search", "limit", "cursor", "start", "orderBy", "orderByDir"} <= set(props), spec["key"]
        assert props["orderByDir"]["enum"] == ["asc", "desc"]
        assert set(spec["outputSchema"]["required"]) == {"records", "total"}
    assert "segment" in catalog.find("list-contacts")["inputSchema"]["properties"]


@pytest.mark.parametrize("area", AREAS)
def test_area_intent_puts_its_list_action_first(box: Box, area: str) -> None:
    items = box.ok("action", "list", f"--connectionId={CONN}", f"--intent={area}", "--limit=20", "--json")["items"]
    keys = [a["key"] for a in items]
    assert keys[0] == f"list-{area}"
    assert {s["key"] for s in catalog.specs() if s["area"] == area} <= set(keys)


def test_intent_ranking_is_the_same_in_every_process(box: Box) -> None:
    argv = ("action", "list", "--intent=update a company address", "--limit=100", "--json")
    first, second = box.ok(*argv), box.ok(*argv)
    assert first == second and first["items"][0]["key"] == "update-company"


def test_intent_ranking_is_deterministic_and_relevant() -> None:
    specs = catalog.specs()
    first = [s["key"] for s in ranking.rank(specs, "add a contact to a segment")]
    assert first == [s["key"] for s in ranking.rank(specs, "add a contact to a segment")]
    assert first[0] == "add-contact-to-segment"
    assert ranking.rank(specs, "create company")[0]["key"] == "create-company"
    assert ranking.rank(specs, "send an email")[0]["key"] == "send-email-to-contact"
    assert ranking.rank(specs, "leads")[0]["key"] == "list-contacts"
    assert ranking.rank(specs, "xyzzy") == []
    assert [s["key"] for s in ranking.rank(specs, "")] == sorted(s["key"] for s in specs)


def test_stems_handle_plurals() -> None:
    assert [ranking.stem(w) for w in ("contacts", "companies", "addresses", "stages", "class", "emails")] == [
        "contact", "company", "address", "stage", "class", "email"
    ]  # fmt: skip


def test_limit_and_cursor_paging(box: Box) -> None:
    page = box.ok("action", "list", "--json")
    assert len(page["items"]) == 10 and page["cursor"]
    seen = [a["key"] for a in page["items"]]
    while "cursor" in page:
        page = box.ok("action", "list", "--limit", "7", "--cursor", page["cursor"], "--json")
        assert len(page["items"]) <= 7
        seen += [a["key"] for a in page["items"]]
    assert seen == sorted(s["key"] for s in catalog.specs())
    ranked = box.ok("action", "list", "--intent=contacts", "--limit=3", "--json")
    assert len(ranked["items"]) == 3 and ranked["items"][0]["key"] == "list-contacts"
    rest = box.ok("action", "list", "--intent=contacts", "--limit=3", f"--cursor={ranked['cursor']}", "--json")
    assert {a["key"] for a in rest["items"]}.isdisjoint(a["key"] for a in ranked["items"])


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "2.5"])
def test_bad_limit_is_a_bad_request(box: Box, limit: str) -> None:
    done = box.run("action", "list", f"--limit={limit}", "--json")
    assert done.code == 1 and done.error()["type"] == "bad_request"


def test_action_list_unknown_connection_and_other_integration(box: Box) -> None:
    done = box.run("action", "list", "--connectionId=ffffffffffffffffffffffff", "--json")
    assert done.code == 1 and done.error()["key"] == "not_found"
    assert box.ok("action", "list", "--integrationKey=hubspot", "--json") == {"items": []}
    assert box.ok("action", "list", "--connectionKey=mautic", "--limit=1", "--json")["items"][0]["connectionId"] == CONN
