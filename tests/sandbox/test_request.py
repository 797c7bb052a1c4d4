"""`membrane request`: the proxied Mautic API as a caller sees it, through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.conftest import CONN, Box

MAUTIC_404 = {"errors": [{"code": 404, "message": "Item was not found.", "details": [], "type": None}]}


def test_list_rows_are_keyed_by_id_with_string_total(box: Box) -> None:
    body = box.request("/api/contacts", "--query", "limit=5", "--query=start=10").json()
    assert body["total"] == "220"
    assert list(body["contacts"]) == ["11", "12", "13", "14", "15"]
    contact = body["contacts"]["11"]
    assert contact["id"] == 11
    assert {
        "id",
        "isPublished",
        "dateAdded",
        "dateModified",
        "points",
        "stage",
        "tags",
        "doNotContact",
        "fields",
    } <= set(contact)
    assert contact["fields"]["all"]["id"] == 11 and "email" in contact["fields"]["all"]
    core = contact["fields"]["core"]["email"]
    assert set(core) >= {"alias", "label", "type", "value"} and core["value"] == contact["fields"]["all"]["email"]
    assert all(isinstance(t, dict) and "tag" in t for t in contact["tags"])


@pytest.mark.parametrize(
    ("path", "list_key", "total"),
    [
        ("/api/companies", "companies", "20"),
        ("/api/segments", "lists", "6"),
        ("/api/campaigns", "campaigns", "5"),
        ("/api/emails", "emails", "8"),
        ("/api/forms", "forms", "4"),
        ("/api/stages", "stages", "4"),
        ("/api/notes", "notes", "50"),
        ("/api/assets", "assets", "6"),
    ],
)
def test_every_entity_lists(box: Box, path: str, list_key: str, total: str) -> None:
    body = box.request(path, "--query=limit=0").json()
    assert body["total"] == total and len(body[list_key]) == int(total)
    first = next(iter(body[list_key].values()))
    single = box.request(f"{path}/{first['id']}").json()
    assert len(single) == 1 and next(iter(single.values()))["id"] == first["id"]


def test_emails_carry_big_html(box: Box) -> None:
    emails = box.request("/api/emails").json()["emails"]
    assert all(len(e["customHtml"]) > 3000 and e["subject"] and e["emailType"] for e in emails.values())


def test_path_query_search_and_ordering(box: Box) -> None:
    body = box.request("/api/contacts?search=segment:hot-leads&orderBy=points&orderByDir=DESC&limit=0").json()
    points = [c["points"] for c in body["contacts"].values()]
    assert points == sorted(points, reverse=True) and min(points) > 120 and int(body["total"]) == len(points)
    assert box.request("/api/contacts", "--query=search=zzzz-nobody").json() == {"total": "0", "contacts": []}


def test_path_params(box: Box) -> None:
    a = box.request("/api/notes/{id}", "--pathParam", "id=3").json()
    b = box.request("/api/notes/:id", "--pathParam=id=3").json()
    assert a == b and a["note"]["id"] == 3


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("/api/contacts/99999",), 404),
        (("/api/contacts/abc",), 404),
        (("/api/nothing",), 404),
        (("/api/contacts/1", "-X", "DELETE"), 405),
        (("/api/contacts/new",), 405),
        (("/api/contacts", "--query", "orderBy=shoeSize"), 400),
        (("/api/contacts/new", "-X", "POST", "--json", "-d", '{"email": "not-an-email"}'), 422),
        (("/api/companies/new", "-X", "POST", "--json", "-d", '{"companyemail": "a@b.example"}'), 422),
        (("/api/contacts/99999/edit", "-X", "PATCH", "--json", "-d", "{}"), 404),
        (("/api/segments/1/contact/99999/add", "-X", "POST"), 404),
    ],
)
def test_mautic_errors_exit_1_with_external_api_error(box: Box, args: tuple[str, ...], status: int) -> None:
    done = box.request(*args)
    assert done.code == 1 and done.out == ""
    error = done.error()
    assert error["type"] == "bad_request" and error["key"] == "external_api_error"
    assert error["message"].startswith(f"Mautic API responded with status {status}: ")
    assert error["data"]["status"] == status
    errors = error["data"]["response"]["errors"]
    assert errors[0]["code"] == status and errors[0]["message"]
    if status == 404 and "99999" in args[0] and "edit" not in args[0]:
        assert error["data"]["response"] == MAUTIC_404
        assert error["message"] == "Mautic API responded with status 404: Item was not found."
    if status == 422:
        assert isinstance(errors[0]["details"], dict) and errors[0]["details"]


def test_validation_details_name_the_field(box: Box) -> None:
    error = box.request("/api/contacts/new", "-X", "POST", "--json", "-d", '{"email": "nope"}').error()
    assert error["data"]["response"]["errors"][0]["details"] == {"email": ["A valid email is required."]}


def test_json_flag_requires_a_json_body(box: Box) -> None:
    done = box.request("/api/contacts/new", "-X", "POST", "--json", "-d", "email=a@b.example")
    assert done.code == 1 and done.out == "" and done.error()["type"] == "bad_request"


def test_create_with_json_and_form_bodies_then_upsert(box: Box) -> None:
    created = box.request(
        "/api/contacts/new", "--method=POST", "--json", "--data", '{"email": "Pat.Doe@example.com", "firstname": "Pat"}'
    ).json()["contact"]
    assert created["fields"]["all"]["firstname"] == "Pat" and created["id"] == 221
    again = box.request("/api/contacts/new", "-X", "POST", "-d", "email=pat.doe@example.com&lastname=Doe").json()
    assert again["contact"]["id"] == created["id"]
    assert again["contact"]["fields"]["all"]["lastname"] == "Doe"
    assert again["contact"]["fields"]["all"]["firstname"] == "Pat"
    raw = box.request("/api/contacts/new", "-X", "POST", "--rawData", "-d", '{"email": "raw@example.com"}').json()
    assert raw["contact"]["id"] == 222


def test_a_derived_segment_alias_is_made_unique(box: Box) -> None:
    aliases = [
        box.request("/api/segments/new", "-X", "POST", "--json", "-d", '{"name": "Hot Leads"}').json()["list"]["alias"]
        for _ in range(3)
    ]
    assert aliases == ["hot-leads1", "hot-leads2", "hot-leads3"]


def test_patch_put_delete(box: Box) -> None:
    patched = box.request("/api/contacts/2/edit", "-X", "PATCH", "--json", "-d", '{"city": "Quito"}').json()
    all_fields = patched["contact"]["fields"]["all"]
    assert all_fields["city"] == "Quito" and all_fields["lastname"]
    put = box.request("/api/contacts/2/edit", "-X", "PUT", "--json", "-d", '{"email": "only@example.com"}').json()
    assert put["contact"]["fields"]["all"]["lastname"] is None
    assert put["contact"]["fields"]["all"]["email"] == "only@example.com"
    made = box.request("/api/stages/777/edit", "-X", "PUT", "--json", "-d", '{"name": "Evangelist"}')
    assert made.code == 0 and made.json()["stage"]["name"] == "Evangelist"
    deleted = box.request("/api/contacts/2/delete", "-X", "DELETE").json()
    assert deleted["contact"]["id"] == 2
    assert box.request("/api/contacts/2").code == 1


def test_relations(box: Box) -> None:
    before = box.request("/api/contacts/1/segments").json()
    assert "3" not in (before["lists"] or {})
    assert box.request("/api/segments/3/contact/1/add", "-X", "POST").json() == {"success": 1}
    assert "3" in box.request("/api/contacts/1/segments").json()["lists"]
    box.request("/api/segments/3/contact/1/remove", "-X", "POST")
    assert "3" not in (box.request("/api/contacts/1/segments").json()["lists"] or {})
    assert box.request("/api/campaigns/2/contact/1/add", "-X", "POST").json() == {"success": 1}
    assert "2" in box.request("/api/contacts/1/campaigns").json()["campaigns"]
    assert box.request("/api/companies/4/contact/1/add", "-X", "POST").json() == {"success": 1}
    companies = box.request("/api/contacts/1/companies").json()["companies"]
    assert 4 in [c["id"] for c in companies]
    assert box.request("/api/stages/4/contact/1/add", "-X", "POST").json() == {"success": 1}
    assert box.request("/api/contacts/1").json()["contact"]["stage"]["id"] == 4
    sent_before = box.request("/api/emails/1").json()["email"]["sentCount"]
    assert box.request("/api/emails/1/contact/1/send", "-X", "POST").json() == {"success": 1}
    assert box.request("/api/emails/1").json()["email"]["sentCount"] == sent_before + 1
    notes = box.request("/api/contacts/1/notes").json()
    assert notes["total"] == len(notes["notes"])


def test_writes_persist_across_processes(box: Box) -> None:
    box.request("/api/segments/new", "-X", "POST", "--json", "-d", json.dumps({"name": "Board Members"}))
    segments = box.request("/api/segments", "--query=search=board").json()["lists"]
    [segment] = segments.values()
    assert segment["alias"] == "board-members"
    found = box.request("/api/contacts", "--query", "search=segment:board-members").json()
    assert found["total"] == "0"


def test_request_to_unknown_connection(box: Box) -> None:
    done = box.run("request", "ffffffffffffffffffffffff", "/api/contacts")
    assert done.code == 1 and done.error()["key"] == "not_found"
    assert box.run("request", "mautic", "/api/stages").code == 0


def test_request_json_flag_keeps_errors_off_stdout(box: Box) -> None:
    done = box.run("request", CONN, "/api/contacts/99999", "--json")
    assert done.code == 1 and done.out == ""


def test_pairs_decode_like_urllib() -> None:
    from urllib.parse import parse_qsl

    from mautic_mcp.sandbox.commands import pairs

    for text in (
        "a=1&b=x%20y",
        "search=email%3Ajo%2Bx%40ex.com&limit=5",
        "q=caf%C3%A9+au+lait",
        "bad=%zz%4",
        "k=&=v&x",
    ):
        assert pairs(text) == parse_qsl(text, keep_blank_values=True), text


def test_bracketed_names_nest_as_php_reads_them() -> None:
    from mautic_mcp.sandbox.commands import pairs
    from mautic_mcp.sandbox.values import nest

    text = (
        "search=a%5Bb%5D&filters%5Bsearch%5D=x&filters%5BincludeEvents%5D%5B%5D=email.sent"
        "&filters%5BincludeEvents%5D%5B%5D=email.read&where%5B0%5D%5Bcol%5D=id&where%5B0%5D%5Bval%5D=3"
        "&order[0]=timestamp&order[1]=DESC&ids[]=1&bad[=1&map[b]=2&map[a]=1"
    )
    assert nest(pairs(text)) == {
        "search": "a[b]",
        "filters": {"search": "x", "includeEvents": ["email.sent", "email.read"]},
        "where": [{"col": "id", "val": "3"}],
        "order": ["timestamp", "DESC"],
        "ids": ["1"],
        "bad[": "1",
        "map": {"b": "2", "a": "1"},
    }


def test_form_bodies_nest_too(box: Box) -> None:
    done = box.request("/api/contacts/new", "-X", "POST", "-d", "email=nest@example.com&tags[]=alpha&tags[]=beta")
    assert [t["tag"] for t in done.json()["contact"]["tags"]] == ["alpha", "beta"]
