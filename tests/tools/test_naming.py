"""Tool names: valid for every client, unique, stable."""

from typing import Any

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.tools.naming import VALID_NAME, assign_names, sanitize


def catalog(*entries: dict[str, Any]) -> list[Action]:
    actions = [Action.from_entry(entry) for entry in entries]
    return [action for action in actions if action is not None]


def test_valid_keys_are_kept():
    assert assign_names(catalog({"id": "1", "key": "list-contacts"}, {"id": "2", "key": "get_contact"})) == [
        "list-contacts",
        "get_contact",
    ]


def test_invalid_keys_and_empty_keys_are_sanitized():
    names = assign_names(
        catalog({"id": "1", "key": "contacts.find by tag"}, {"id": "2", "key": "", "name": "Search Contacts by Email!"})
    )
    assert names == ["contacts_find_by_tag", "search_contacts_by_email"]


def test_long_and_unicode_names_fit_the_rule():
    for text in ["x" * 300, "Élan vital — contacts", "???", "  ", "a.b.c"]:
        assert VALID_NAME.match(sanitize(text)), text


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
