"""What the README tells people to install and set agrees with the project: one-click links, settings."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from typing import Any

from mautic_mcp.server.config import ENV_NAMES, flag_name
from tests.packaging.support import ROOT, project

README = (ROOT / "README.md").read_text(encoding="utf-8")
CURSOR = re.compile(r"\((cursor://anysphere\.cursor-deeplink/mcp/install\?[^)\s]+)\)")
VSCODE = re.compile(r"\((https://insiders\.vscode\.dev/redirect/mcp/install\?[^)\s]+)\)")


def query(link: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query, strict_parsing=True))


def configs(links: list[str], decode: Any) -> dict[str, dict[str, Any]]:
    return {query(link)["name"]: json.loads(decode(query(link)["config"])) for link in links}


def expected(with_type: bool) -> dict[str, dict[str, Any]]:
    typed = {"type": "stdio"} if with_type else {}
    script = next(iter(project()["scripts"]))
    return {
        "mautic": {**typed, "command": "uvx", "args": [script], "env": {"MEMBRANE_BIN": "/absolute/path/to/membrane"}},
        "mautic-sandbox": {**typed, "command": "uvx", "args": [script, "--sandbox"]},
    }


def test_cursor_links_decode_to_uvx_mautic_mcp() -> None:
    links = CURSOR.findall(README)
    assert configs(links, lambda config: base64.b64decode(config, validate=True)) == expected(with_type=False)


def test_vs_code_links_decode_to_uvx_mautic_mcp() -> None:
    links = VSCODE.findall(README)
    assert configs(links, lambda config: config) == expected(with_type=True)


def test_the_settings_table_has_a_row_for_every_setting() -> None:
    rows = re.findall(r"^\| `(--[a-z-]+)`[^|]*\| `([A-Z_]+)", README, re.M)
    assert sorted(rows) == sorted((flag_name(field), env) for field, env in ENV_NAMES.items())


def test_the_claude_desktop_table_lists_the_extension_settings() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    env = manifest["server"]["mcp_config"]["env"]
    for key, entry in manifest["user_config"].items():
        variable = next(name for name, value in env.items() if value == f"${{user_config.{key}}}")
        assert re.search(rf"^\| {re.escape(entry['title'])} \| {entry['type']} \| `{variable}` \|", README, re.M), key
