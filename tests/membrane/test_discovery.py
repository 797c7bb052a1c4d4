"""Merging discovery pages: a deterministic order, each id once, failures kept apart."""

from __future__ import annotations

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.discovery import merge
from mautic_mcp.membrane.errors import ErrorCode, MembraneError


def action(id: str) -> Action:
    made = Action.from_entry({"id": id, "key": f"key-{id}"})
    assert made is not None
    return made


def ids(actions: list[Action]) -> list[str]:
    return [a.id for a in actions]


def test_intents_in_the_given_order_each_page_in_its_order_first_id_wins():
    pages = {
        "companies": [action("c1"), action("shared"), action("c2")],
        "contacts": [action("p1"), action("shared"), action("p2")],
    }
    found = merge(["contacts", "companies"], pages, {})
    assert ids(found.actions) == ["p1", "shared", "p2", "c1", "c2"]
    assert found.counts == {"contacts": 3, "companies": 3}


def test_the_order_does_not_depend_on_which_page_arrived_first():
    first = {"a": [action("1"), action("2")], "b": [action("2"), action("3")]}
    second = dict(reversed(list(first.items())))
    assert ids(merge(["a", "b"], first, {}).actions) == ids(merge(["a", "b"], second, {}).actions) == ["1", "2", "3"]


def test_a_failed_intent_loses_only_itself():
    error = MembraneError(ErrorCode.RATE_LIMITED, "slow down", "wait")
    found = merge(
        ["contacts", "emails", "notes"], {"contacts": [action("1")], "notes": [action("9")]}, {"emails": error}
    )
    assert ids(found.actions) == ["1", "9"]
    assert found.failures == {"emails": error} and "emails" not in found.counts


def test_an_empty_page_is_counted_as_zero():
    assert merge(["stages"], {"stages": []}, {}).counts == {"stages": 0}


def test_catalog_entries_without_an_id_are_not_actions_and_text_fields_are_strings():
    assert Action.from_entry({"key": "no-id"}) is None
    assert Action.from_entry({"id": "", "key": "empty-id"}) is None
    odd = Action.from_entry({"id": 7, "key": None, "name": {"en": "x"}, "description": ["a"], "type": 3})
    assert odd is not None
    assert (odd.id, odd.key, odd.name, odd.description, odd.type) == ("7", "", "", "", "3")
    assert odd.input_schema is None and odd.output_schema is None
