"""The Mautic emulation in process: search syntax, paging, validation rules and cascades."""

from __future__ import annotations

from mautic_mcp.sandbox.routing import handle
from mautic_mcp.sandbox.store import Store
from tests.sandbox.conftest import get, ids


def test_seed_sizes(db: Store) -> None:
    for path, key, at_least in (
        ("/api/contacts", "contacts", 200), ("/api/companies", "companies", 20), ("/api/segments", "lists", 6),
        ("/api/campaigns", "campaigns", 5), ("/api/emails", "emails", 8), ("/api/forms", "forms", 4),
        ("/api/stages", "stages", 4), ("/api/notes", "notes", 50), ("/api/assets", "assets", 6),
    ):  # fmt: skip
        status, body = get(db, path, limit=0)
        assert status == 200 and int(body["total"]) >= at_least and len(body[key]) == int(body["total"])


def test_seed_emails_are_unique(db: Store) -> None:
    _, body = get(db, "/api/contacts", limit=0)
    emails = [c["fields"]["all"]["email"] for c in body["contacts"].values()]
    assert len(set(emails)) == len(emails)
    segments = {s["alias"] for s in get(db, "/api/segments")[1]["lists"].values()}
    assert {"newsletter", "hot-leads"} <= segments


def test_search_commands(db: Store) -> None:
    _, one = get(db, "/api/contacts", search="ids:3,5,7")
    assert ids(one) == [3, 5, 7]
    email = one["contacts"]["5"]["fields"]["all"]["email"]
    assert ids(get(db, "/api/contacts", search=f"email:{email.upper()}")[1]) == [5]
    tagged = get(db, "/api/contacts", search="tag:vip", limit=0)[1]
    assert all("vip" in [t["tag"] for t in c["tags"]] for c in tagged["contacts"].values())
    europe = get(db, "/api/contacts", search="segment:europe", limit=0)[1]
    assert int(europe["total"]) > 0
    first = one["contacts"]["3"]["fields"]["all"]
    text = get(db, "/api/contacts", search=f"{first['firstname']} {first['lastname']}", limit=0)[1]
    assert 3 in ids(text)
    assert ids(get(db, "/api/contacts", search="ids:3 zzzznothing")[1]) == []
    published = get(db, "/api/emails", search="is:published", limit=0)[1]
    assert published["total"] == "7"
    assert get(db, "/api/assets", published=1)[1]["total"] == "5"
    assert get(db, "/api/segments", search="alias:hot-leads")[1]["total"] == "1"


def test_like_wildcards_are_literal(db: Store) -> None:
    assert get(db, "/api/contacts", search="%")[1]["total"] == "0"
    assert get(db, "/api/contacts", search="_")[1]["total"] == "0"


def test_paging_and_ordering(db: Store) -> None:
    page = get(db, "/api/contacts", start=5, limit=3, orderBy="lastname", orderByDir="desc")[1]
    everything = get(db, "/api/contacts", limit=0, orderBy="lastname", orderByDir="DESC")[1]
    assert ids(page) == ids(everything)[5:8]
    names = [c["fields"]["all"]["lastname"].lower() for c in everything["contacts"].values()]
    assert names == sorted(names, reverse=True)
    assert len(get(db, "/api/contacts")[1]["contacts"]) == 30
    assert get(db, "/api/contacts", orderBy="l.firstname")[0] == 200
    assert get(db, "/api/contacts", orderByDir="sideways")[0] == 400


def test_contact_upsert_and_validation(db: Store) -> None:
    status, body = handle(db, "POST", "/api/contacts/new", {}, {"email": "a@b.example", "tags": "x,y"})
    assert status == 201 and [t["tag"] for t in body["contact"]["tags"]] == ["x", "y"]
    new_id = body["contact"]["id"]
    status, body = handle(db, "POST", "/api/contacts/new", {}, {"email": "A@B.example", "tags": ["-x", "z"]})
    assert status == 200 and body["contact"]["id"] == new_id
    assert [t["tag"] for t in body["contact"]["tags"]] == ["y", "z"]
    assert handle(db, "POST", "/api/contacts/new", {}, {"firstname": "NoEmail"})[0] == 422
    assert handle(db, "POST", "/api/contacts/new", {}, {"email": "a@b.example", "points": "lots"})[0] == 422
    assert handle(db, "POST", "/api/contacts/new", {}, {"email": "c@d.example", "stage": 99})[0] == 422
    assert handle(db, "POST", "/api/contacts/new", {}, ["not", "an", "object"])[0] == 400
    taken = get(db, "/api/contacts/1")[1]["contact"]["fields"]["all"]["email"]
    status, body = handle(db, "PATCH", f"/api/contacts/{new_id}/edit", {}, {"email": taken})
    assert status == 422 and "email" in body["errors"][0]["details"]


def test_company_upsert_by_name(db: Store) -> None:
    status, body = handle(
        db, "POST", "/api/companies/new", {}, {"companyname": "acme analytics", "companycity": "Waco"}
    )
    assert status == 200 and body["company"]["id"] == 1 and body["company"]["fields"]["all"]["companycity"] == "Waco"
    status, body = handle(db, "POST", "/api/companies/new", {}, {"companyname": "Brand New Co"})
    assert status == 201 and body["company"]["fields"]["all"]["companyname"] == "Brand New Co"


def test_other_entities_validate_required_fields(db: Store) -> None:
    for path in ("/api/segments/new", "/api/campaigns/new", "/api/emails/new", "/api/forms/new", "/api/stages/new",
                 "/api/assets/new", "/api/notes/new"):  # fmt: skip
        status, body = handle(db, "POST", path, {}, {})
        assert status == 422, path
        assert body["errors"][0]["code"] == 422 and body["errors"][0]["details"]
    assert handle(db, "POST", "/api/notes/new", {}, {"text": "x", "lead": 99999})[0] == 422
    status, body = handle(db, "POST", "/api/notes/new", {}, {"text": "Called", "contact": 4})
    assert status == 201 and body["note"]["lead"]["id"] == 4
    status, _ = handle(db, "POST", "/api/segments/new", {}, {"name": "Hot Leads 2", "alias": "hot-leads"})
    assert status == 422


def test_deleting_a_contact_cascades(db: Store) -> None:
    note = next(iter(get(db, "/api/notes", limit=1)[1]["notes"].values()))
    contact_id = note["lead"]["id"]
    status, body = handle(db, "DELETE", f"/api/contacts/{contact_id}/delete", {}, None)
    assert status == 200 and body["contact"]["id"] == contact_id
    assert get(db, f"/api/notes/{note['id']}")[0] == 404
    assert get(db, f"/api/contacts/{contact_id}/segments")[0] == 404
    member = db.conn.execute("SELECT count(*) FROM segment_contacts WHERE contact_id = ?", (contact_id,)).fetchone()
    assert member[0] == 0


def test_deleting_a_stage_clears_contacts(db: Store) -> None:
    staged = get(db, "/api/contacts", limit=0)[1]["contacts"]
    holder = next(c for c in staged.values() if c["stage"] and c["stage"]["id"] == 2)
    assert handle(db, "DELETE", "/api/stages/2/delete", {}, None)[0] == 200
    assert get(db, f"/api/contacts/{holder['id']}")[1]["contact"]["stage"] is None


def test_fields_endpoint(db: Store) -> None:
    status, body = get(db, "/api/fields/contact")
    assert status == 200 and "email" in {f["alias"] for f in body["fields"].values()}
    assert get(db, "/api/fields/company")[0] == 200
    assert handle(db, "POST", "/api/fields/contact", {}, None)[0] == 405


def test_unpublished_email_cannot_be_sent(db: Store) -> None:
    assert handle(db, "POST", "/api/emails/7/contact/1/send", {}, None)[0] == 400
    assert handle(db, "POST", "/api/emails/1/contact/1/explode", {}, None)[0] == 404
    assert handle(db, "GET", "/api/emails/1/contact/1/send", {}, None)[0] == 405


def test_routing_edges(db: Store) -> None:
    assert get(db, "api/contacts/1/")[0] == 200
    assert get(db, "/contacts")[0] == 404
    assert get(db, "/api")[0] == 404
    assert get(db, "/api/contacts/1/bogus")[0] == 404
    assert handle(db, "POST", "/api/contacts", {}, None)[0] == 405
    assert handle(db, "GET", "/api/contacts/1/edit", {}, None)[0] == 405
    assert handle(db, "POST", "/api/contacts/1/delete", {}, None)[0] == 405
