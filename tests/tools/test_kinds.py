"""Action kinds: a read only when nothing about the action says it writes; the strongest write word wins."""

from __future__ import annotations

from typing import Any

import pytest

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.tools import actions
from mautic_mcp.tools.actions import action_kind, build_action_tools
from mautic_mcp.tools.registry import build_registry
from mautic_mcp.tools.tool import Kind


def action(key: str, kind: str = "", name: str = "") -> Action:
    return Action(id=key or name, key=key, name=name, description="", type=kind, input_schema=None, output_schema=None)


@pytest.mark.parametrize(
    ("key", "membrane_type", "kind"),
    [
        ("list-contacts", "list-data-records", Kind.READ),
        ("get-contact", "find-data-record-by-id", Kind.READ),
        ("list-contact-fields", "connector-operation", Kind.READ),
        ("get-email", "find-data-record-by-id", Kind.READ),
        ("list-deleted-contacts", "connector-operation", Kind.READ),
        ("find-or-create-contact", "create-data-record", Kind.ADD),
        ("find-or-create-contact", "", Kind.ADD),
        ("get-or-create-segment", "", Kind.ADD),
        ("getAndDeleteContact", "delete-data-record", Kind.DELETE),
        ("getAndDeleteContact", "connector-operation", Kind.DELETE),
        ("list-contacts", "delete-data-record", Kind.DELETE),
        ("contacts", "update-data-record", Kind.UPDATE),
        ("create-or-update-contact", "", Kind.UPDATE),
        ("add-or-remove-tags", "", Kind.WRITE),
        ("update-and-send-email", "", Kind.WRITE),
        ("send-email-to-contact", "connector-operation", Kind.SEND),
        ("remove-contact-from-segment", "connector-operation", Kind.REMOVE),
        ("contacts", "connector-operation", Kind.WRITE),
        ("getanddeletecontact", "", Kind.WRITE),
        ("search", "search-data-records", Kind.READ),
    ],
)
def test_kinds(key: str, membrane_type: str, kind: Kind):
    assert action_kind(action(key, membrane_type)) is kind


def test_a_write_word_in_the_name_makes_a_write_too():
    assert action_kind(action("get-contact", name="Get contact and set its owner")) is Kind.UPDATE
    assert action_kind(action("", name="Find or create a contact")) is Kind.ADD


def test_read_only_mode_keeps_only_what_is_clearly_a_read():
    catalog = [
        action("list-contacts", "list-data-records"),
        action("find-or-create-contact", "create-data-record"),
        action("get-or-create-segment"),
        action("getAndDeleteContact", "delete-data-record"),
        action("run-report", "run-javascript"),
    ]
    names = [tool.name for tool in build_action_tools(catalog, read_only=True, reserved=frozenset())]
    assert names == ["list_contacts"]
    tools = {tool.name: tool for tool in build_action_tools(catalog, read_only=False, reserved=frozenset())}
    hints = tools["get_and_delete_contact"].tool.annotations
    assert hints is not None and hints.destructive_hint is True and hints.idempotent_hint is True
    assert (tools["get_and_delete_contact"].tool.description or "").endswith("Cannot be undone.")


def test_a_write_word_past_the_64th_character_still_makes_a_write():
    """Regression: kinds were read from the 64-character tool name, so a late `delete` went unseen."""
    key = "get-contact-by-email-address-and-primary-company-name-and-afterwards-delete-the-contact"
    assert key.index("delete") > 64
    late = action(key, "find-data-record-by-id")
    assert action_kind(late) is Kind.DELETE
    (tool,) = build_action_tools([late], read_only=False, reserved=frozenset())
    hints = tool.tool.annotations
    assert hints is not None and hints.destructive_hint is True and hints.read_only_hint is not True
    assert build_action_tools([late], read_only=True, reserved=frozenset()) == []
    registry = build_registry([late], read_only=True)
    assert registry.hidden == {tool.name} and registry.get(tool.name) is None


def test_read_only_mode_names_tools_over_every_action_and_builds_only_the_reads(monkeypatch: pytest.MonkeyPatch):
    catalog = [action("list_contacts", "delete-data-record"), action("list-contacts", "list-data-records")]
    built: list[Any] = []

    def normalize(schema: Any) -> Any:
        built.append(schema)
        return real(schema)

    real = actions.normalize
    monkeypatch.setattr(actions, "normalize", normalize)
    read_write = build_action_tools(catalog, read_only=False, reserved=frozenset())
    assert len(built) == 2 and read_write.hidden == ()
    built.clear()
    read_only = build_action_tools(catalog, read_only=True, reserved=frozenset())
    assert len(built) == 1
    assert [tool.name for tool in read_only] == [read_write[1].name] != ["list_contacts"]
    assert read_only.hidden == ("list_contacts",) == (read_write[0].name,)


def test_a_tools_title_and_description_come_from_the_catalog_repaired_and_capped():
    name, description = "List \ud83d things " + "n" * 500, "d\udc00 " * 2000
    entry = {"id": "a1", "key": "list-things", "name": name, "description": description}
    made = Action.from_entry(entry)
    assert made is not None
    (tool,) = build_action_tools([made], read_only=False, reserved=frozenset())
    title, description = tool.tool.title or "", tool.tool.description or ""
    assert title.startswith("List \ufffd things") and len(title) <= 200
    assert description.startswith("d\ufffd d\ufffd") and len(description) <= 1024
    (title + description).encode("utf-8")
