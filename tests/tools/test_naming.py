"""Tool names: valid for every client, unique, stable."""

from typing import Any

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.tools.naming import VALID_NAME, assign_names, closest, snake_case


def catalog(*entries: dict[str, Any]) -> list[Action]:
    actions = [Action.from_entry(entry) for entry in entries]
    return [action for action in actions if action is not None]


def test_every_name_is_snake_case_whatever_the_key_style():
    names = assign_names(
        catalog(
            {"id": "1", "key": "list-contacts"},
            {"id": "2", "key": "get_contact"},
            {"id": "3", "key": "contacts_find-by-tag"},
            {"id": "4", "key": "findContactsByEmail"},
            {"id": "5", "key": "HTTPRequest"},
        )
    )
    assert names == ["list_contacts", "get_contact", "contacts_find_by_tag", "find_contacts_by_email", "http_request"]


def test_invalid_keys_and_empty_keys_are_sanitized():
    names = assign_names(
        catalog({"id": "1", "key": "contacts.find by tag"}, {"id": "2", "key": "", "name": "Search Contacts by Email!"})
    )
    assert names == ["contacts_find_by_tag", "search_contacts_by_email"]
    assert snake_case("Élan vital — contacts") == "elan_vital_contacts"


def test_long_and_unicode_names_fit_the_rule():
    for text in ["x" * 300, "Élan vital — contacts", "???", "  ", "a.b.c"]:
        name = snake_case(text)
        assert VALID_NAME.match(name) and len(name) <= 64, text


def test_collisions_get_a_stable_suffix_and_exact_keys_win():
    actions = catalog(
        {"id": "a", "key": "list contacts"},
        {"id": "b", "key": "list_contacts"},
        {"id": "c", "key": "", "name": "list contacts"},
        {"id": "d", "key": "proxy_request"},
    )
    names = assign_names(actions, reserved={"proxy_request"})
    assert names[1] == "list_contacts"
    assert len(set(names)) == 4 and all(VALID_NAME.match(n) for n in names)
    assert "proxy_request" not in names
    assert names == assign_names(actions, reserved={"proxy_request"})
    # The same action keeps its name when another one joins the catalog.
    again = assign_names([actions[2], *actions], reserved={"proxy_request"})
    assert again[0] == names[2]


def test_the_closest_names_are_offered_for_a_mistyped_one():
    known = ["list_contacts", "get_contact", "list_companies", "proxy_request"]
    assert closest("list-contacts", known)[0] == "list_contacts"
    assert closest("getContact", known)[0] == "get_contact"
    assert "list_companies" in closest("list_companys", known)
    assert closest("zzz", known) == []


def test_no_name_differs_from_another_or_from_a_reserved_one_only_by_case():
    actions = catalog(
        {"id": "1", "key": "Proxy_Request"},
        {"id": "2", "key": "PROXY-REQUEST"},
        {"id": "3", "key": "proxyRequest"},
        {"id": "4", "key": "List_Contacts"},
        {"id": "5", "key": "list_contacts"},
    )
    names = assign_names(actions, reserved={"Proxy_Request"})
    folded = [name.casefold() for name in names]
    assert "proxy_request" not in folded and len(set(folded)) == len(names)
    assert names[4] == "list_contacts" and names[3] != "list_contacts"
    assert all(VALID_NAME.match(name) for name in names)
