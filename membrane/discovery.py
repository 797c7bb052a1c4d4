"""Discovering Mautic actions: every intent at once, merged and deduplicated by id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from mautic_mcp.membrane.client import Membrane, MembraneError

log = logging.getLogger(__name__)


@dataclass
class Discovery:
    actions: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, MembraneError] = field(default_factory=dict)


async def discover(membrane: Membrane, connection_id: str, intents: Sequence[str], limit: int) -> Discovery:
    """Run `action list` for each intent concurrently; one failing intent loses only itself.

    Order is deterministic: intents in the given order, each intent's actions in
    Membrane's ranking, the first occurrence of an id winning.
    """
    pages: dict[str, list[dict[str, Any]]] = {}
    result = Discovery()

    async def one(intent: str) -> None:
        try:
            pages[intent] = await membrane.list_actions(connection_id, intent, limit)
        except MembraneError as error:
            log.warning("discovery for intent %r failed: %s", intent, error.message)
            result.failures[intent] = error

    async with anyio.create_task_group() as group:
        for intent in intents:
            group.start_soon(one, intent)

    seen: set[str] = set()
    for intent in intents:
        page = pages.get(intent)
        if page is None:
            continue
        result.counts[intent] = len(page)
        for action in page:
            action_id = str(action.get("id") or "")
            if action_id and action_id not in seen:
                seen.add(action_id)
                result.actions.append(action)
    return result
