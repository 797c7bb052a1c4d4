"""Tokens: what the tool list costs a model, measured with cl100k_base, with and without output schemas.

Builds the default `tools/list` payload on a fresh sandbox (`mautic-mcp tools --sandbox --json`), then
the same list with each action's Membrane `outputSchema` added, normalized the way input schemas are,
and counts both. The encoding comes from the PyPI package `bpe-openai` (the same cl100k_base that
tiktoken downloads), so this runs offline.

    python bench/tool_list_tokens.py [--top 8]

`tests/tools/test_tool_list_budget.py` asserts the default list stays within its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from programs import program

BUDGET = 6_000
"""Tokens the default tool list may cost (cl100k_base)."""


def count_tokens(text: str) -> int:
    from bpe_openai import get_encoding

    return len(get_encoding("cl100k_base").encode(text))


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _run(args: list[str], db: Path) -> Any:
    env = {**os.environ, "MEMBRANE_SANDBOX_DB": str(db)}
    for name in ("MEMBRANE_SANDBOX_STATE", "MEMBRANE_SANDBOX_FAULT", "MEMBRANE_SANDBOX_KNOBS"):
        env.pop(name, None)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def tool_lists() -> tuple[dict[str, Any], dict[str, Any]]:
    """The default tools/list payload, and the same with the actions' output schemas added."""
    from mautic_mcp.tools.naming import snake_case
    from mautic_mcp.tools.schema import normalize_input_schema

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sandbox.db"
        listed = _run([*program("mautic-mcp", "mautic_mcp.server"), "tools", "--sandbox", "--json"], db)
        catalog = _run(
            [*program("membrane-sandbox", "mautic_mcp.sandbox"), "action", "list", "--limit=100", "--json"], db
        )
    outputs = {
        snake_case(entry.get("key") or entry.get("name") or ""): entry.get("outputSchema")
        for entry in catalog["items"]
        if isinstance(entry.get("outputSchema"), dict)
    }
    with_outputs = json.loads(json.dumps(listed))
    for tool in with_outputs["tools"]:
        schema = outputs.get(tool["name"])
        if schema is not None:
            tool["outputSchema"] = normalize_input_schema(schema)
    return listed, with_outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=8, help="the costliest tools to list")
    args = parser.parse_args()
    listed, with_outputs = tool_lists()
    rows = [("default tools/list", listed), ("with Membrane outputSchema", with_outputs)]
    print(f"{'payload':<28} {'tools':>5} {'chars':>8} {'tokens':>7} {'budget':>7}")
    for label, payload in rows:
        text = compact(payload)
        tokens = count_tokens(text)
        print(f"{label:<28} {len(payload['tools']):>5} {len(text):>8,} {tokens:>7,} {BUDGET:>7,}")
    print(f"\nthe {args.top} costliest tools (default list):")
    print(f"{'tool':<32} {'tokens':>7} {'schema':>7}")
    costs = [(count_tokens(compact(t)), count_tokens(compact(t["inputSchema"])), t["name"]) for t in listed["tools"]]
    for tokens, schema, name in sorted(costs, reverse=True)[: args.top]:
        print(f"{name:<32} {tokens:>7} {schema:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
