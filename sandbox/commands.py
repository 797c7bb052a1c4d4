"""What each `membrane` command does in the sandbox; the CLI module only parses and prints."""

from __future__ import annotations

from mautic_mcp.sandbox import workspace
from mautic_mcp.sandbox.errors import CliError, bad_input, not_found

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.args import Args

LOGIN_URL = "https://sandbox.invalid/login?workspace=sandbox&code_challenge=sandbox"


def run(command: str, args: Args, rest: list[str], state: str) -> Any:
    """The result object of every command but `request`, which prints a response body instead."""
    if command == "status":
        if state == "logged_out":
            return {"loggedIn": False}
        return {"loggedIn": True, "workspace": workspace.WORKSPACE, "user": workspace.USER, "apiUri": workspace.API_URI}
    if command == "login":
        return _login(rest, state)
    if command == "logout":
        return {
            "loggedOut": True,
            "message": "Logged out of the sandbox workspace. The sandbox takes its login "
            "state from MEMBRANE_SANDBOX_STATE, so the next command is logged in again unless that says "
            "logged_out.",
        }
    if command == "connection list":
        return {"items": workspace.connections(state)}
    if command == "connection get":
        return workspace.find_connection(state, rest[0])
    if command == "search":
        return _search(rest[0], args.value("elementType"))
    if command == "connect":
        return _connect(args, state)
    if command == "action list":
        return _action_list(args, state)
    if command == "action get":
        return _action_get(rest[0], args, state)
    if command == "action run":
        return _action_run(rest[0], args, state)
    if command == "reset":
        from mautic_mcp.sandbox import store

        return {"reset": True, "path": store.reset()}
    raise CliError("internal", "internal_error", f"command {command} has no handler")


def _login(rest: list[str], state: str) -> dict[str, Any]:
    if state != "logged_out":
        return {
            "loggedIn": True,
            "workspace": workspace.WORKSPACE,
            "user": workspace.USER,
            "message": "Already logged in to the sandbox workspace.",
        }
    out: dict[str, Any] = {
        "loggedIn": False,
        "url": LOGIN_URL,
        "next": "membrane login complete <code>",
        "message": "Open the URL in a browser, sign in, then run `membrane login complete <code>` with the "
        "code it shows.",
    }
    if rest:
        out["message"] = (
            "The sandbox takes its login state from MEMBRANE_SANDBOX_STATE; unset it (or set it "
            "to `ready`) to be logged in."
        )
    return out


def _search(query: str, element_type: str | None) -> dict[str, Any]:
    if "mautic" not in query.lower() and query.lower() not in "mautic":
        return {"items": []}
    if element_type in (None, "", "connector"):
        return {"items": [{"elementType": "connector", "element": workspace.connector()}]}
    if element_type == "integration":
        return {"items": [{"elementType": "integration", "element": workspace.integration()}]}
    return {"items": []}


def _connect(args: Args, state: str) -> dict[str, Any]:
    connection_id = args.value("connectionId")
    if connection_id:
        item = workspace.find_connection(state, connection_id)
        item.setdefault(
            "clientAction",
            {
                "type": "connect",
                "description": "Open the link to reconnect Mautic",
                "uiUrl": f"{workspace.UI_BASE}/connect/{item['id']}",
            },
        )
        return item
    connector_id = args.value("connectorId")
    if not connector_id:
        raise bad_input(
            "connect needs --connectorId=<id> (from `membrane search mautic --elementType=connector`)"
            " or --connectionId=<id> to reconnect."
        )
    if connector_id not in (workspace.CONNECTOR_ID, "mautic"):
        raise not_found(f"Connector {connector_id} not found")
    item = workspace.connection("ready", workspace.NEW_CONNECTION_ID)
    item["state"] = "CLIENT_ACTION_REQUIRED"
    item["clientAction"] = {
        "type": "connect",
        "description": "Open the link to authorize Mautic",
        "uiUrl": f"{workspace.UI_BASE}/connect/{workspace.NEW_CONNECTION_ID}",
    }
    return item


def _limit(text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.strip().isdigit() or not 1 <= int(text) <= 100:
        raise bad_input(f"--limit must be an integer from 1 to 100, got {text!r}.")
    return int(text)


def _action_list(args: Args, state: str) -> dict[str, Any]:
    from mautic_mcp.sandbox import catalog, ranking

    connection_id = args.value("connectionId")
    connection_key = args.value("connectionKey")
    if connection_id or connection_key:
        connection_id = workspace.find_connection(state, connection_id, connection_key)["id"]
    limit = _limit(args.value("limit"), 10)
    cursor = args.value("cursor")
    start = 0
    if cursor:
        if not (cursor.startswith("a") and cursor[1:].isdigit()):
            raise bad_input(f"--cursor {cursor!r} is not a cursor `action list` returned.")
        start = int(cursor[1:])
    integration_key = args.value("integrationKey")
    if integration_key and integration_key != "mautic":
        return {"items": []}
    ranked = ranking.rank(catalog.specs(), args.value("intent") or "")
    page = ranked[start : start + limit]
    out: dict[str, Any] = {"items": [catalog.action(spec, connection_id) for spec in page]}
    if start + limit < len(ranked):
        out["cursor"] = f"a{start + limit}"
    return out


def _find_action(id_or_key: str) -> dict[str, Any]:
    from mautic_mcp.sandbox import catalog

    spec = catalog.find(id_or_key)
    if spec is None:
        raise not_found(f"Action {id_or_key} not found")
    return spec


def _action_get(id_or_key: str, args: Args, state: str) -> dict[str, Any]:
    from mautic_mcp.sandbox import catalog

    connection_id = args.value("connectionId")
    if connection_id or args.value("connectionKey"):
        connection_id = workspace.find_connection(state, connection_id, args.value("connectionKey"))["id"]
    return catalog.action(_find_action(id_or_key), connection_id)


def _parse_input(text: str | None) -> Any:
    if text is None or not text.strip():
        return {}
    import json

    try:
        return json.loads(text)
    except ValueError as exc:
        raise bad_input(f"--input is not valid JSON: {exc}") from None


def _action_run(id_or_key: str, args: Args, state: str) -> dict[str, Any]:
    import os

    workspace.usable_connection(state, args.value("connectionId"), args.value("connectionKey"))
    given = _parse_input(args.value("input"))
    spec = _find_action(id_or_key)
    from mautic_mcp.sandbox.actions import ActionRunner
    from mautic_mcp.sandbox.store import open_store

    output = ActionRunner(open_store()).run(spec, given)
    return {"output": output, "actionRunId": os.urandom(12).hex()}


def request(args: Args, rest: list[str], state: str) -> tuple[int, Any]:
    """Proxies one API call to the emulated Mautic; returns (status, body)."""
    workspace.usable_connection(state, rest[0])
    path = rest[1]
    for pair in args.values("pathParam"):
        name, eq, value = pair.partition("=")
        if not eq:
            raise bad_input(f"--pathParam must be k=v, got {pair!r}.")
        path = path.replace("{" + name + "}", value)
        path = "/".join(value if part == ":" + name else part for part in path.split("/"))
    path, _, query_text = path.partition("?")
    query_pairs = pairs(query_text)
    for pair in args.values("query"):
        name, eq, value = pair.partition("=")
        if not eq:
            raise bad_input(f"--query must be k=v, got {pair!r}.")
        query_pairs.append((name, value))
    method = (args.value("method") or "GET").upper()
    body = _request_body(args)
    from mautic_mcp.sandbox.routing import handle
    from mautic_mcp.sandbox.store import open_store
    from mautic_mcp.sandbox.values import nest

    return handle(open_store(), method, path, nest(query_pairs), body)


def _request_body(args: Args) -> Any:
    """`--json` bodies must be JSON; other bodies may be JSON or form-encoded, as Mautic accepts both."""
    data = args.value("data")
    if data is None:
        return None
    import json

    if args.flag("json"):
        try:
            return json.loads(data)
        except ValueError as exc:
            raise bad_input(f"--data is not valid JSON (sent with --json): {exc}") from None
    content_type = ""
    for header in args.values("header"):
        name, _, value = header.partition(":")
        if name.strip().lower() == "content-type":
            content_type = value.strip().lower()
    if "form-urlencoded" not in content_type:
        try:
            return json.loads(data)
        except ValueError:
            pass
    if "=" in data:
        from mautic_mcp.sandbox.values import nest

        return nest(pairs(data))
    return data


def _unquote(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    head, *rest = text.split("%")
    out = bytearray(head.encode())
    for part in rest:
        code = part[:2]
        if len(code) == 2 and all(c in "0123456789abcdefABCDEF" for c in code):
            out.append(int(code, 16))
            out += part[2:].encode()
        else:
            out += ("%" + part).encode()
    return out.decode("utf-8", "replace")


def pairs(text: str) -> list[tuple[str, str]]:
    """`a=1&b=x%20y` as decoded (name, value) pairs, like urllib's parse_qsl, which costs an import per call."""
    out: list[tuple[str, str]] = []
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            out.append((_unquote(name), _unquote(value)))
    return out
