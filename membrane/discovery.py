"""Discovering Mautic actions: every intent at once, merged and deduplicated by id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import MembraneError

log = logging.getLogger(__name__)


@dataclass
class Discovery:
    """The merged actions, each intent's page and how many it found, and why the failed intents failed."""

    actions: list[Action] = field(default_factory=list)
    pages: dict[str, list[Action]] = field(default_factory=dict)
    failures: dict[str, MembraneError] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """How many actions each intent that answered found."""
        return {intent: len(page) for intent, page in self.pages.items()}


async def discover(membrane: Membrane, connection_id: str, intents: Sequence[str], limit: int) -> Discovery:
    """Run `action list` for each intent concurrently; one failing intent loses only itself."""
    pages: dict[str, list[Action]] = {}
    failures: dict[str, MembraneError] = {}

    async def one(intent: str) -> None:
        try:
            pages[intent] = await membrane.list_actions(connection_id, intent, limit)
        except MembraneError as error:
            log.warning("discovery for intent %r failed: %s", intent, error.message)
            failures[intent] = error

    async with anyio.create_task_group() as group:
        for intent in intents:
            group.start_soon(one, intent)
    return merge(intents, pages, failures)


def merge(intents: Sequence[str], pages: dict[str, list[Action]], failures: dict[str, MembraneError]) -> Discovery:
    """One deterministic list: intents in the given order, each page in Membrane's ranking, first id wins."""
    result = Discovery(failures={intent: failures[intent] for intent in intents if intent in failures})
    seen: set[str] = set()
    for intent in intents:
        page = pages.get(intent)
        if page is None:
            continue
        result.pages[intent] = list(page)
        for action in page:
            if action.id not in seen:
                seen.add(action.id)
                result.actions.append(action)
    return result
