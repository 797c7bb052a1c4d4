"""Human-readable output for commands run without `--json`."""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def render(command: str, result: Any) -> str:
    if command == "status":
        if not result.get("loggedIn"):
            return "Not logged in. Run `membrane login --tenant` to authenticate.\n"
        ws, user = result["workspace"], result["user"]
        return f"Logged in to {ws['name']} ({ws['key']}) as {user['email']}\nAPI: {result['apiUri']}\n"
    if command == "login":
        if result.get("loggedIn"):
            return f"{result['message']}\n"
        return f"Open this URL in a browser to log in:\n  {result['url']}\n{result['message']}\n"
    if command == "logout":
        return f"{result['message']}\n"
    if command == "connection list":
        if not result["items"]:
            return "No connections. Create one with `membrane connect --connectorId=<id>`.\n"
        return "".join(f"{c['id']}  {c['name']}  {c['state']}\n" for c in result["items"])
    if command == "connect" and "clientAction" in result:
        action = result["clientAction"]
        return f"{action['description']}:\n  {action['uiUrl']}\nConnection: {result['id']} ({result['state']})\n"
    if command == "action list":
        lines = [f"{a['key'] or '(no key)'}  {a['id']}  {a['name']}\n" for a in result["items"]]
        if result.get("cursor"):
            lines.append(f"More: --cursor={result['cursor']}\n")
        return "".join(lines) or "No actions found.\n"
    return json.dumps(result, indent=2) + "\n"
