"""The Membrane CLI's commands, and what their output and failures mean.

The CLI is a closed Node program whose output shapes are only partly documented,
so everything here parses tolerantly and turns every failure into a
`MembraneError` that says what went wrong and which command fixes it.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mautic_mcp.membrane.runner import (
    ArgumentTooLarge,
    Completed,
    ExecutableNotFound,
    ExecutableNotRunnable,
    RunError,
    Runner,
    RunTimeout,
)

LOGIN_COMMAND = "membrane login --tenant"
FIND_CONNECTOR_COMMAND = "membrane search mautic --elementType=connector --json"
LIST_CONNECTIONS_COMMAND = "membrane connection list --json"
MEMBRANE_TYPES = frozenset({"bad_request", "connection", "configuration", "action_run", "internal"})
QUOTE_CHARS = 400


def reconnect_command(connection_id: str | None) -> str:
    return f"membrane connect --connectionId={connection_id or '<connection id>'}"


@dataclass
class MembraneError(Exception):
    """A failed CLI call, said for an agent: what failed and what to do next."""

    code: str
    what: str
    fix: str = ""
    outcome_unknown: bool = False
    detail: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.what} {self.fix}".strip()

    def after_write(self, how_to_check: str) -> str:
        """What a failed write means for the data: unknown (check first), or not made."""
        if self.outcome_unknown:
            return (
                f" It is unknown whether the change was made: check with {how_to_check} before trying again, "
                "or the change could be made twice."
            )
        if self.code in {"rate_limited", "not_logged_in", "reconnect_needed", "connection_defunct"}:
            return " The change was not made."
        return ""


class Membrane:
    """Typed commands over the runner. `program` names the CLI in messages."""

    def __init__(self, runner: Runner, *, program: str = "membrane", sandbox: bool = False) -> None:
        self.runner = runner
        self.program = program
        self.sandbox = sandbox

    async def version(self) -> str:
        done = await self._run(["--version"])
        if done.returncode != 0:
            raise self._failure(done, None)
        return _text(done.stdout).strip().splitlines()[0] if done.stdout.strip() else "unknown"

    async def status(self) -> Any:
        return await self._json(["status", "--json"], None)

    async def list_connections(self) -> list[dict[str, Any]]:
        return _items(await self._json(["connection", "list", "--json"], None))

    async def list_actions(self, connection_id: str, intent: str, limit: int) -> list[dict[str, Any]]:
        args = ["action", "list", f"--connectionId={connection_id}", f"--intent={intent}", f"--limit={limit}"]
        return _items(await self._json([*args, "--json"], connection_id))

    async def run_action(self, action_id: str, connection_id: str, arguments: Mapping[str, Any]) -> Any:
        payload = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        args = ["action", "run", action_id, f"--connectionId={connection_id}", f"--input={payload}", "--json"]
        answer = await self._json(args, connection_id)
        if isinstance(answer, dict) and "output" in answer:
            return answer["output"]
        return answer

    async def request(
        self,
        connection_id: str,
        path: str,
        *,
        method: str,
        query: Sequence[tuple[str, str]] = (),
        headers: Sequence[tuple[str, str]] = (),
        body: str | None = None,
        json_body: bool = True,
    ) -> Any:
        args = ["request", connection_id, path, f"--method={method}"]
        args += [f"--query={key}={value}" for key, value in query]
        args += [f"--header={name}: {value}" for name, value in headers]
        if body is not None:
            args.append(f"--data={body}")
            args.append("--json" if json_body else "--rawData")
        done = await self._run(args)
        parsed = _parse_json(done.stdout)
        if done.returncode != 0:
            raise self._failure(done, connection_id, None if parsed is _UNPARSED else parsed)
        if parsed is _UNPARSED:
            return _text(done.stdout)
        return parsed

    async def _run(self, args: list[str]) -> Completed:
        try:
            done = await self.runner.run(args)
        except RunError as exc:
            raise self._run_error(exc) from None
        if done.stdout_truncated and done.returncode == 0:
            raise MembraneError(
                "output_too_large",
                f"The answer was larger than {self.runner.max_stdout_bytes // (1024 * 1024)} MB and was not read.",
                "Ask for less: fewer records (a lower limit), a narrower search, or one item by id.",
            )
        return done

    async def _json(self, args: list[str], connection_id: str | None) -> Any:
        done = await self._run(args)
        parsed = _parse_json(done.stdout)
        if done.returncode != 0 or parsed is _UNPARSED or _is_membrane_error(parsed):
            raise self._failure(done, connection_id, parsed)
        return parsed

    def _run_error(self, exc: RunError) -> MembraneError:
        if isinstance(exc, ExecutableNotFound):
            return self._not_found(exc.program)
        if isinstance(exc, ExecutableNotRunnable):
            return MembraneError(
                "cli_not_runnable",
                f"The Membrane CLI ({exc.program}) could not be started: {exc}.",
                "Check that MEMBRANE_BIN points to the `membrane` executable and that it is executable (`chmod +x`).",
            )
        if isinstance(exc, ArgumentTooLarge):
            return MembraneError(
                "input_too_large",
                f"The input is too large to pass to the Membrane CLI ({exc.size:,} bytes; the limit is 128 KiB).",
                "Send less in one call: split the work into several smaller calls.",
            )
        if isinstance(exc, RunTimeout):
            return MembraneError(
                "timeout",
                f"The Membrane CLI gave no answer within {exc.seconds:g} seconds and was stopped.",
                "Try again with a smaller request (a lower limit, a narrower search), or raise MAUTIC_MCP_TIMEOUT.",
                outcome_unknown=True,
            )
        return MembraneError("failed", f"The Membrane CLI could not be run: {exc}.")

    def _not_found(self, program: str) -> MembraneError:
        if self.sandbox:
            return MembraneError(
                "cli_not_found",
                f"The sandbox CLI ({program}) was not found.",
                "Reinstall mautic-mcp (`pip install mautic-mcp`) in the environment the server runs from.",
            )
        return MembraneError(
            "cli_not_found",
            f"The Membrane CLI ({program}) was not found.",
            "Install it with `npm install -g @membranehq/cli`, then set MEMBRANE_BIN to its absolute path "
            "(see `which membrane`), or add its folder to PATH in the MCP client's `env`: desktop clients "
            "start servers with a short PATH.",
        )

    def _failure(self, done: Completed, connection_id: str | None, parsed: Any = None) -> MembraneError:
        stderr = _text(done.stderr)
        if done.killed_by_signal:
            name = _signal_name(done.killed_by_signal)
            return MembraneError(
                "crashed",
                f"The Membrane CLI was killed by {name} before it answered.",
                "Try again; if it keeps happening, run the same command in a terminal to see why.",
                outcome_unknown=True,
            )
        if done.returncode == 127:
            if re.search(r"\bnode\b", stderr):
                return MembraneError(
                    "node_not_found",
                    f"The Membrane CLI was found but `node` was not: {_quote(stderr)}.",
                    "Set PATH in the MCP client's `env` to include the folder of `node` (see `which "
                    "node`), or set MEMBRANE_BIN to an absolute path whose script can find node.",
                )
            return self._not_found(self.program)
        if done.returncode == 126:
            return MembraneError(
                "cli_not_runnable",
                f"The Membrane CLI ({self.program}) could not be executed: {_quote(stderr)}.",
                "Check that MEMBRANE_BIN points to the `membrane` executable and that it is executable.",
            )
        error = _find_error(parsed, stderr)
        if error is not None:
            return classify(error, connection_id)
        if done.returncode == 0:
            shown = _quote(_text(done.stdout)) or "nothing"
            return MembraneError(
                "unreadable_output",
                f"The Membrane CLI answered with output that is not JSON: {shown}.",
                "Check that MEMBRANE_BIN is the Membrane CLI and that it is up to date "
                "(`npm install -g @membranehq/cli`).",
                outcome_unknown=True,
            )
        said = _quote(stderr) or _quote(_text(done.stdout)) or "no message"
        return MembraneError(
            "failed",
            f"The Membrane CLI failed (exit status {done.returncode}): {said}.",
            "Run the same command in a terminal to see the details.",
        )


def classify(error: Mapping[str, Any], connection_id: str | None) -> MembraneError:
    """Map a Membrane error object to what it means for the user."""
    key = str(error.get("key") or "").lower()
    kind = str(error.get("type") or "").lower()
    message = str(error.get("message") or "").strip() or "no message"
    data = error.get("data")
    lowered = message.lower()
    said = f"Membrane said: {_quote(message).rstrip('.')}"

    if key in {"not_authenticated", "unauthorized", "invalid_token"} or "not logged in" in lowered:
        return MembraneError(
            "not_logged_in",
            f"The Membrane CLI is not logged in. {said}.",
            f"Run `{LOGIN_COMMAND}` in a terminal (on a machine without a browser, open the URL it prints "
            "and finish with `membrane login complete <code>`), then try again.",
        )
    if key == "connection_is_defunct" or "defunct" in lowered:
        return MembraneError(
            "connection_defunct",
            f"The Mautic connection no longer works. {said}.",
            f"Reconnect it with `{reconnect_command(connection_id)}`, or create a new one: "
            f"`{FIND_CONNECTOR_COMMAND}`, then `membrane connect --connectorId=<id>`.",
        )
    if key in {"access_token_expired", "client_action_required"} or "reconnect" in lowered:
        return MembraneError(
            "reconnect_needed",
            f"The Mautic connection needs to be re-authorized. {said}.",
            f"Run `{reconnect_command(connection_id)}` and finish the authorization in the browser, then try again.",
        )
    if key == "rate_limit_exceeded" or "rate limit" in lowered:
        wait = data.get("retryAfter") if isinstance(data, dict) else None
        return MembraneError(
            "rate_limited",
            f"Mautic or Membrane is rate limiting requests. {said}.",
            f"Wait {f'{wait} seconds' if wait else 'a minute'} before trying again.",
        )
    if key == "access_denied":
        return MembraneError(
            "access_denied",
            f"Access was denied. {said}.",
            "Check that the Mautic user behind the connection has permission for this, "
            f"or reconnect with `{reconnect_command(connection_id)}`.",
        )
    response = data.get("response") if isinstance(data, dict) else None
    status = data.get("status") if isinstance(data, dict) else None
    if response is not None or status is not None:
        return api_error(status, response, message)
    if key == "not_found" and "connection" in lowered:
        return MembraneError(
            "connection_not_found",
            f"The Mautic connection was not found. {said}.",
            f"List your connections with `{LIST_CONNECTIONS_COMMAND}` and pass the right one with "
            "--connection-id (MAUTIC_MCP_CONNECTION_ID).",
        )
    if key == "not_found":
        return MembraneError("not_found", f"Not found. {said}.", "Check the id and try again.")
    if kind == "bad_request" or key in {"invalid_input", "bad_request", "validation_error"}:
        return MembraneError("bad_request", f"The request was rejected. {said}.", "Fix the input and try again.")
    return MembraneError("failed", f"The Membrane CLI reported an error. {said}.", "")


def api_error(status: Any, response: Any, fallback: str) -> MembraneError:
    """An error answered by Mautic itself: read its `errors[]` (or old `error`) with field details."""
    details = mautic_error_text(response) or fallback
    status_text = f" with status {status}" if status else ""
    fix = {
        400: "Fix the fields named above and try again.",
        401: f"Mautic refused the credentials: reconnect with `{reconnect_command(None)}`.",
        403: "The Mautic user or API settings do not allow this (is the API enabled?).",
        404: "Check the id or path; list the records to find the right id.",
        405: "This path does not accept that method; check Mautic's API documentation.",
        409: "The item is locked (being edited in Mautic); try again later.",
        422: "Fix the fields named above and try again.",
        429: "Wait a minute before trying again.",
    }.get(_as_int(status), "Check the request and try again.")
    return MembraneError("api_error", f"Mautic answered{status_text}: {details}.", fix, detail=response)


def mautic_error_text(body: Any) -> str:
    if isinstance(body, str):
        parsed = _parse_json(body.encode())
        body = parsed if parsed is not _UNPARSED else body
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            parts = []
            for item in errors:
                if not isinstance(item, dict):
                    parts.append(str(item))
                    continue
                text = str(item.get("message") or "").strip()
                fields = item.get("details")
                if isinstance(fields, dict) and fields:
                    text += " (" + "; ".join(f"{k}: {_flatten(v)}" for k, v in fields.items()) + ")"
                parts.append(text)
            return _quote(" ".join(p for p in parts if p))
        if isinstance(body.get("error"), dict | str):
            old = body["error"]
            return _quote(str(old.get("message", old) if isinstance(old, dict) else old))
    if isinstance(body, str):
        return _quote(body)
    return ""


_UNPARSED: Any = object()


def _parse_json(raw: bytes) -> Any:
    text = _text(raw).strip()
    if not text:
        return _UNPARSED
    try:
        return json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1:
            try:
                return json.loads(lines[-1])
            except ValueError:
                return _UNPARSED
        return _UNPARSED


def _is_membrane_error(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "message" in value
        and str(value.get("type")) in MEMBRANE_TYPES
        and not {"output", "items"} & value.keys()
    )


def _find_error(parsed: Any, stderr: str) -> Mapping[str, Any] | None:
    """An error object from stdout, else from any JSON line of stderr."""
    candidates = [parsed]
    candidates += [_parse_json(line.encode()) for line in reversed(stderr.splitlines()) if "{" in line]
    for value in candidates:
        if not isinstance(value, dict):
            continue
        if isinstance(value.get("error"), dict):
            value = value["error"]
        elif isinstance(value.get("error"), str):
            value = {"message": value["error"], **{k: v for k, v in value.items() if k != "error"}}
        if "message" in value and ({"type", "key", "data"} & value.keys()):
            return value
    if stderr.strip():
        lowered = stderr.lower()
        if "not logged in" in lowered or ("login" in lowered and "run" in lowered):
            return {"key": "not_authenticated", "message": stderr.strip()}
    return None


def _items(value: Any) -> list[dict[str, Any]]:
    """Accept a page `{"items": [...]}`, a bare list, or `{"data": [...]}`."""
    if isinstance(value, dict):
        for key in ("items", "data", "results"):
            if isinstance(value.get(key), list):
                value = value[key]
                break
    if not isinstance(value, list):
        raise MembraneError(
            "unreadable_output",
            f"The Membrane CLI answered with an unexpected shape: {_quote(json.dumps(value))}.",
            "Update the CLI (`npm install -g @membranehq/cli`) and try again.",
        )
    return [item for item in value if isinstance(item, dict)]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _quote(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flatten(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    return str(value)


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
