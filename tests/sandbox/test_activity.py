"""`GET /api/contacts/{id}/activity`: a contact's timeline in Mautic's API shape, from the seed and from writes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mautic_mcp.sandbox.store import Store
from mautic_mcp.sandbox.timeline import TYPES, _duration
from tests.sandbox.conftest import Box, call, get

EVENT_KEYS = {"event", "eventId", "eventLabel", "eventType", "timestamp", "contactId", "details"}


def activity(db: Store, contact_id: int | None = 1, **query: Any) -> dict[str, Any]:
    status, body = get(db, f"/api/contacts/{contact_id}/activity" if contact_id else "/api/contacts/activity", **query)
    assert status == 200, body
    return body


def kinds(body: dict[str, Any]) -> list[str]:
    return [e["event"] for e in body["events"]]


def label(event: dict[str, Any]) -> str:
    given = event["eventLabel"]
    return given["label"] if isinstance(given, dict) else given


def test_shape_and_default_order(db: Store) -> None:
    body = activity(db, 1, limit=100)
    assert set(body) == {"events", "filters", "order", "types", "total", "page", "limit", "maxPages"}
    assert body["filters"] == {"search": "", "includeEvents": [], "excludeEvents": []}
    assert body["order"] == ["timestamp", "DESC"]
    assert (body["page"], body["limit"], body["maxPages"]) == (1, 100, 1)
    assert body["types"] == dict(sorted(TYPES.items(), key=lambda item: item[1].lower()))
    assert body["total"] == len(body["events"]) > 0
    for event in body["events"]:
        assert set(event) == EVENT_KEYS
        assert event["contactId"] == "1" and event["eventType"] == TYPES[event["event"]]
        assert event["eventId"].startswith(event["event"]) and event["timestamp"].endswith("+00:00")
    stamps = [e["timestamp"] for e in body["events"]]
    assert stamps == sorted(stamps, reverse=True)
    assert "lead.source.identified" in kinds(body)


def test_the_seeded_history_agrees_with_the_contact(db: Store) -> None:
    for contact_id in (1, 2, 24, 60):
        contact = get(db, f"/api/contacts/{contact_id}")[1]["contact"]
        body = activity(db, contact_id, limit=0)
        points = [int(e["details"]["log"]["delta"]) for e in body["events"] if e["event"] == "point.gained"]
        assert sum(points) == contact["points"]
        stages = [e for e in body["events"] if e["event"] == "stage.changed"]
        assert bool(stages) == bool(contact["stage"])
        if stages:
            assert stages[0]["details"]["log"]["reference"] == str(contact["stage"]["id"])
        segments = get(db, f"/api/contacts/{contact_id}/segments")[1]["lists"] or {}
        added = {e["details"]["objectDescription"] for e in body["events"] if e["event"] == "segment_membership"}
        assert added == {s["name"] for s in segments.values()}


def test_event_details_have_mautics_shapes(db: Store) -> None:
    events = activity(db, 1, limit=0)["events"]
    sent = next(e for e in events if e["event"] == "email.sent")
    stat = sent["details"]["stat"]
    assert sent["details"]["type"] == "sent" and sent["timestamp"] == stat["dateSent"]
    assert {"emailId", "emailName", "idHash", "isRead", "dateSent", "timeToRead", "openDetails"} <= set(stat)
    assert "lead_id" not in stat and "leadId" not in stat
    assert sent["eventLabel"] == {
        "label": stat["emailName"],
        "href": f"https://mautic.sandbox.invalid/email/view/{stat['idHash']}",
        "isExternal": True,
    }
    read = next(e for e in events if e["event"] == "email.read")
    assert read["timestamp"] == read["details"]["stat"]["dateRead"] and read["details"]["stat"]["isRead"] == "1"
    assert read["details"]["stat"]["timeToRead"].startswith("P")
    identified = next(e for e in events if e["event"] == "lead.source.identified")
    assert identified["eventLabel"].startswith("Contact was identified by ")
    assert set(identified["details"]) == {"objectDescription"}


def test_writes_show_up_in_the_timeline(db: Store) -> None:
    status, made = call(db, "POST", "/api/contacts/new", {"email": "timeline@example.com"})
    assert status == 201
    cid = made["contact"]["id"]
    assert [label(e) for e in activity(db, cid)["events"]] == ["Contact was identified by Sandbox Admin"]
    for method, path in (
        ("POST", f"/api/segments/3/contact/{cid}/add"),
        ("POST", f"/api/segments/3/contact/{cid}/add"),  # already a member: nothing new, as in Mautic
        ("POST", f"/api/segments/3/contact/{cid}/remove"),
        ("POST", f"/api/campaigns/2/contact/{cid}/add"),
        ("POST", f"/api/campaigns/2/contact/{cid}/remove"),
        ("POST", f"/api/stages/4/contact/{cid}/add"),
        ("POST", f"/api/emails/1/contact/{cid}/send"),
    ):
        assert call(db, method, path)[0] == 200, path
    body = activity(db, cid, limit=50, order=["timestamp", "ASC"])
    labels = [label(e) for e in body["events"]]
    assert labels.count("Contact added to segment, Customers") == 1
    assert "Contact removed from segment, Customers" in labels
    campaign = get(db, "/api/campaigns/2")[1]["campaign"]["name"]
    assert f"Contact added to campaign, {campaign}" in labels
    assert f"Contact removed from campaign, {campaign}" in labels
    assert "4: Customer" in labels
    stage = next(e for e in body["events"] if e["event"] == "stage.changed")
    assert stage["details"]["log"]["actionName"] == "Manually Added"
    sent = next(e for e in body["events"] if e["event"] == "email.sent")
    assert sent["details"]["stat"]["isRead"] == "0" and sent["details"]["stat"]["timeToRead"] is False
    assert "email.read" not in kinds(body)
    assert body["total"] == len(body["events"]) == 7
    campaign_event = next(e for e in body["events"] if e["event"] == "campaign_membership")
    assert campaign_event["details"] == {"campaignId": 2, "campaignName": campaign, "objectDescription": campaign}


def test_paging_is_per_event_type_as_in_mautic(db: Store) -> None:
    everything = activity(db, 24, limit=0)
    counts: dict[str, int] = {}
    for kind in kinds(everything):
        counts[kind] = counts.get(kind, 0) + 1
    first = activity(db, 24, limit=1)
    assert sorted(kinds(first)) == sorted(counts)
    assert first["total"] == everything["total"] == sum(counts.values())
    assert first["maxPages"] == max(counts.values())
    assert activity(db, 24, limit=2)["maxPages"] == math.ceil(max(counts.values()) / 2)
    pages = [activity(db, 24, limit=1, page=p)["events"] for p in range(1, first["maxPages"] + 1)]
    seen = sorted(e["eventId"] for page in pages for e in page)
    assert seen == sorted(e["eventId"] for e in everything["events"])
    assert activity(db, 24, limit=1, page=first["maxPages"] + 1)["events"] == []


def test_filters_and_order(db: Store) -> None:
    only = activity(db, 24, filters={"includeEvents": ["segment_membership"]})
    assert set(kinds(only)) == {"segment_membership"} and only["filters"]["includeEvents"] == ["segment_membership"]
    without = activity(db, 24, filters={"excludeEvents": ["segment_membership", "point.gained"]})
    assert not {"segment_membership", "point.gained"} & set(kinds(without))
    bare = activity(db, 24, includeEvents="point.gained,stage.changed")
    assert set(kinds(bare)) == {"point.gained", "stage.changed"}
    searched = activity(db, 24, filters={"search": "trial users"})
    assert [label(e) for e in searched["events"]] == ["Contact added to segment, Trial Users"]
    assert activity(db, 24, search="Trial Users")["total"] == 1
    ascending = activity(db, 24, order=["timestamp", "ASC"], limit=0)
    stamps = [e["timestamp"] for e in ascending["events"]]
    assert stamps == sorted(stamps) and ascending["order"] == ["timestamp", "ASC"]
    by_label = [label(e) for e in activity(db, 24, orderBy="eventLabel", orderByDir="ASC", limit=0)["events"]]
    assert by_label == sorted(by_label)
    everything = activity(db, 24, limit=0)["events"]
    middle = sorted(e["timestamp"] for e in everything)[len(everything) // 2]
    day = middle[:10]
    later = activity(db, 24, filters={"dateFrom": f"{day} 00:00:00"}, limit=0)["events"]
    assert later and all(e["timestamp"] >= day for e in later)
    earlier = activity(db, 24, filters={"dateTo": day}, limit=0)["events"]
    assert earlier and all(e["timestamp"][:10] <= day for e in earlier)
    assert len(later) + len(earlier) >= len(everything)


def test_every_contacts_activity(db: Store) -> None:
    body = activity(db, None, limit=5)
    assert len({e["contactId"] for e in body["events"]}) > 1
    assert body["total"] > 1000


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/contacts/99999/activity", 404),
        ("POST", "/api/contacts/1/activity", 405),
        ("DELETE", "/api/contacts/activity", 405),
    ],
)
def test_activity_errors(db: Store, method: str, path: str, status: int) -> None:
    got, body = call(db, method, path)
    assert got == status and body["errors"][0]["code"] == status


def test_deleting_a_contact_takes_its_history(db: Store) -> None:
    assert call(db, "DELETE", "/api/contacts/24/delete")[0] == 200
    assert get(db, "/api/contacts/24/activity")[0] == 404
    for table in ("lead_event_log", "lead_points_change_log", "lead_stages_change_log"):
        assert db.conn.execute(f"SELECT count(*) FROM {table} WHERE lead_id = 24").fetchone()[0] == 0


def test_php_style_query_through_the_cli(box: Box) -> None:
    body = box.request(
        "/api/contacts/24/activity",
        "--query",
        "filters[includeEvents][]=point.gained",
        "--query",
        "filters[includeEvents][]=stage.changed",
        "--query",
        "order[0]=timestamp",
        "--query",
        "order[1]=ASC",
        "--query",
        "limit=2",
    ).json()
    assert body["filters"]["includeEvents"] == ["point.gained", "stage.changed"]
    assert set(kinds(body)) <= {"point.gained", "stage.changed"} and body["order"] == ["timestamp", "ASC"]
    assert box.request("/api/contacts/99999/activity").error()["data"]["status"] == 404


def test_time_to_read_is_an_iso_duration() -> None:
    sent = "2024-01-01T10:00:00+00:00"
    assert _duration(sent, None) is False
    assert _duration(sent, "2024-01-01T10:01:39+00:00") == "PT1M39S"
    assert _duration(sent, "2024-01-03T12:00:00+00:00") == "P2DT2H"
    assert _duration(sent, sent) == "PT0S"
