"""The sandbox's seams: dispatch tables cover every case they are asked for, and the sandbox stays apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mautic_mcp.sandbox
from mautic_mcp.sandbox import actions, batch, catalog, entities, relations, rendering, routing, timeline

SANDBOX = Path(mautic_mcp.sandbox.__file__).resolve().parent


def test_every_catalog_op_has_a_runner() -> None:
    assert {spec["op"] for spec in catalog.specs()} == set(actions.OPERATIONS)


def test_routed_contact_lists_are_the_ones_answered() -> None:
    assert set(routing.CONTACT_LISTS) == set(relations.CONTACT_RELATED)


def test_every_relation_verb_has_a_handler() -> None:
    assert set(relations.VERBS) == set(relations.RELATE)


def test_record_routes_and_timeline_sources_name_real_things() -> None:
    assert {route[0] for route in routing.RECORD_ROUTES} <= set(entities.ENTITIES)
    assert set(timeline.SOURCES) <= set(timeline.TYPES)
    assert set(batch.BATCH) == {"new", "edit", "delete"}


def test_tables_by_entity_name_real_entities() -> None:
    for table in (rendering.SHAPES, relations.VERBS, entities.RELATIONS):
        assert set(table) <= set(entities.ENTITIES)


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(SANDBOX.glob("*.py")), ids=lambda p: p.name)
def test_sandbox_imports_nothing_of_the_server(path: Path) -> None:
    """The sandbox stands in for the Membrane CLI, so it must not share code with the client it tests."""
    forbidden = ("mautic_mcp.server", "mautic_mcp.tools", "mautic_mcp.membrane")
    assert not [name for name in _imported(path) if name.startswith(forbidden)]
