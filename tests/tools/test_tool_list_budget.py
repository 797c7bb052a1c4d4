"""The default tool list stays within the tokens a model pays for it (cl100k_base, as bench/ counts)."""

from __future__ import annotations

import json
from types import ModuleType

from tests.support import bench_module


def bench() -> ModuleType:
    return bench_module("tool_list_tokens")


def test_the_default_tool_list_is_within_its_token_budget_and_output_schemas_would_break_it():
    tokens = bench()
    listed, with_outputs = tokens.tool_lists()
    cost = tokens.count_tokens(tokens.compact(listed))
    assert len(listed["tools"]) > 30
    assert cost <= tokens.BUDGET, f"{cost} tokens"
    assert tokens.count_tokens(tokens.compact(with_outputs)) > tokens.BUDGET, "why outputSchema is not advertised"


def test_no_tool_repeats_its_title_or_name_in_its_description_or_hints():
    listed, _ = bench().tool_lists()
    for tool in listed["tools"]:
        assert "title" not in tool.get("annotations", {}), tool["name"]
        assert "outputSchema" not in tool, tool["name"]
        title = tool.get("title") or ""
        assert not title or not tool["description"].startswith(title), tool["name"]
        echoes = [
            name
            for name, schema in tool["inputSchema"].get("properties", {}).items()
            if str(schema.get("description", "")).lower().replace(" ", "") == name.lower()
        ]
        assert not echoes, (tool["name"], echoes)
    assert json.dumps(listed).count('"openWorldHint"') == 0, "openWorldHint is left at its default"
