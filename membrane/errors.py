"""What a failed CLI call means, said for an agent: what failed, and the command that fixes it.

Every failure of the Membrane CLI, of the connection or of Mautic becomes one
`MembraneError` with a code, a sentence on what failed and one on what to do.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from mautic_mcp.membrane.output import UNPARSED, decode, find_error, parse_json, quote
from mautic_mcp.membrane.runner import (
    ArgumentTooLarge,
    Completed,
    ExecutableNotFound,
    ExecutableNotRunnable,
    RunError,
    RunTimeout,
)

LOGIN_COMMAND: Final = "membrane login --tenant"
FIND_CONNECTOR_COMMAND: Final = "membrane search mautic --elementType=connector --json"
LIST_CONNECTIONS_COMMAND: Final = "membrane connection list --json"
INSTALL_COMMAND: Final = "npm install -g @membranehq/cli"


def reconnect_command(connection_id: str | None) -> str:
    return f"membrane connect --connectionId={connection_id or '<connection id>'}"


class ErrorCode(StrEnum):
    """Why a call failed; the code a client or a test can branch on."""

    CLI_NOT_FOUND = "cli_not_found"
    CLI_NOT_RUNNABLE = "cli_not_runnable"
    NODE_NOT_FOUND = "node_not_found"
    INPUT_TOO_LARGE = "input_too_large"
    OUTPUT_TOO_LARGE = "output_too_large"
    UNREADABLE_OUTPUT = "unreadable_output"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    FAILED = "failed"
    NOT_LOGGED_IN = "not_logged_in"
    NO_CONNECTION = "no_connection"
    SEVERAL_CONNECTIONS = "several_connections"
    CONNECTION_NOT_FOUND = "connection_not_found"
    CONNECTION_BUILDING = "connection_building"
    CONNECTION_DEFUNCT = "connection_defunct"
    RECONNECT_NEEDED = "reconnect_needed"
    RATE_LIMITED = "rate_limited"
    ACCESS_DENIED = "access_denied"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    API_ERROR = "api_error"
    NO_ACTIONS = "no_actions"


NOTHING_SENT: Final = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.NOT_LOGGED_IN, ErrorCode.RECONNECT_NEEDED, ErrorCode.CONNECTION_DEFUNCT}
)
"""Failures that stop a call before Mautic sees it: a write that failed so was not made."""


class MembraneError(Exception):
    """A failed CLI call: what failed (`what`) and what to do next (`fix`).

    `outcome_unknown` is set when the CLI may have done its work before it failed
    (a timeout, a crash, an unreadable answer): a write may or may not have been made.
    """

    def __init__(self, code: ErrorCode, what: str, fix: str = "", *, outcome_unknown: bool = False) -> None:
        super().__init__(code, what, fix)
        self.code = ErrorCode(code)
        self.what = what
        self.fix = fix
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return self.message

    @property
    def message(self) -> str:
        return f"{self.what} {self.fix}".strip()

    def after_write(self, how_to_check: str) -> str:
        """What a failed write means for the data: unknown (check first), not made, or nothing to add."""
        if self.outcome_unknown:
            return (
                f" It is unknown whether the change was made: check with {how_to_check} before trying again, "
                "or the change could be made twice."
            )
        if self.code in NOTHING_SENT:
            return " The change was not made."
        return ""


def cli_not_found(program: str, *, sandbox: bool) -> MembraneError:
    if sandbox:
        return MembraneError(
            ErrorCode.CLI_NOT_FOUND,
            f"The sandbox CLI ({program}) was not found.",
            "Reinstall mautic-mcp (`pip install mautic-mcp`) in the environment the server runs from.",
        )
    return MembraneError(
        ErrorCode.CLI_NOT_FOUND,
        f"The Membrane CLI ({program}) was not found.",
        f"Install it with `{INSTALL_COMMAND}`, then set MEMBRANE_BIN to its absolute path "
        "(see `which membrane`), or add its folder to PATH in the MCP client's `env`: desktop clients "
        "start servers with a short PATH.",
    )


def from_run_error(exc: RunError, *, program: str, sandbox: bool) -> MembraneError:
    """A CLI that could not be run to the end: not found, not runnable, input too large, or too slow."""
    if isinstance(exc, ExecutableNotFound):
        return cli_not_found(exc.program, sandbox=sandbox)
    if isinstance(exc, ExecutableNotRunnable):
        return MembraneError(
            ErrorCode.CLI_NOT_RUNNABLE,
            f"The Membrane CLI ({exc.program}) could not be started: {exc}.",
            "Check that MEMBRANE_BIN points to the `membrane` executable and that it is executable (`chmod +x`).",
        )
    if isinstance(exc, ArgumentTooLarge):
        return MembraneError(
            ErrorCode.INPUT_TOO_LARGE,
            f"The input is too large to pass to the Membrane CLI ({exc.size:,} bytes; the limit is 128 KiB).",
            "Send less in one call: split the work into several smaller calls.",
        )
    if isinstance(exc, RunTimeout):
        return MembraneError(
            ErrorCode.TIMEOUT,
            f"The Membrane CLI gave no answer within {exc.seconds:g} seconds and was stopped.",
            "Try again with a smaller request (a lower limit, a narrower search), or raise MAUTIC_MCP_TIMEOUT.",
            outcome_unknown=True,
        )
    return MembraneError(ErrorCode.FAILED, f"The Membrane CLI could not be run: {exc}.")


def from_failed_run(
    done: Completed, *, program: str, sandbox: bool, connection_id: str | None, parsed: Any = UNPARSED
) -> MembraneError:
    """A CLI run that ended without the answer asked for: read its exit status, error object and stderr."""
    stderr = decode(done.stderr)
    if done.killed_by_signal:
        return MembraneError(
            ErrorCode.CRASHED,
            f"The Membrane CLI was killed by {_signal_name(done.killed_by_signal)} before it answered.",
            "Try again; if it keeps happening, run the same command in a terminal to see why.",
            outcome_unknown=True,
        )
    if done.returncode == 127:
        if re.search(r"\bnode\b", stderr):
            return MembraneError(
                ErrorCode.NODE_NOT_FOUND,
                f"The Membrane CLI was found but `node` was not: {quote(stderr)}.",
                "Set PATH in the MCP client's `env` to include the folder of `node` (see `which "
                "node`), or set MEMBRANE_BIN to an absolute path whose script can find node.",
            )
        return cli_not_found(program, sandbox=sandbox)
    if done.returncode == 126:
        return MembraneError(
            ErrorCode.CLI_NOT_RUNNABLE,
            f"The Membrane CLI ({program}) could not be executed: {quote(stderr)}.",
            "Check that MEMBRANE_BIN points to the `membrane` executable and that it is executable.",
        )
    error = find_error(None if parsed is UNPARSED else parsed, stderr)
    if error is not None:
        return classify(error, connection_id)
    if done.returncode == 0:
        shown = quote(decode(done.stdout)) or "nothing"
        return MembraneError(
            ErrorCode.UNREADABLE_OUTPUT,
            f"The Membrane CLI answered with output that is not JSON: {shown}.",
            f"Check that MEMBRANE_BIN is the Membrane CLI and that it is up to date (`{INSTALL_COMMAND}`).",
            outcome_unknown=True,
        )
    said = quote(stderr) or quote(decode(done.stdout)) or "no message"
    return MembraneError(
        ErrorCode.FAILED,
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
    said = f"Membrane said: {quote(message).rstrip('.')}"

    if key in {"not_authenticated", "unauthorized", "invalid_token"} or "not logged in" in lowered:
        return MembraneError(
            ErrorCode.NOT_LOGGED_IN,
            f"The Membrane CLI is not logged in. {said}.",
            f"Run `{LOGIN_COMMAND}` in a terminal (on a machine without a browser, open the URL it prints "
            "and finish with `membrane login complete <code>`), then try again.",
        )
    if key == "connection_is_defunct" or "defunct" in lowered:
        return MembraneError(
            ErrorCode.CONNECTION_DEFUNCT,
            f"The Mautic connection no longer works. {said}.",
            f"Reconnect it with `{reconnect_command(connection_id)}`, or create a new one: "
            f"`{FIND_CONNECTOR_COMMAND}`, then `membrane connect --connectorId=<id>`.",
        )
    if key in {"access_token_expired", "client_action_required"} or "reconnect" in lowered:
        return MembraneError(
            ErrorCode.RECONNECT_NEEDED,
            f"The Mautic connection needs to be re-authorized. {said}.",
            f"Run `{reconnect_command(connection_id)}` and finish the authorization in the browser, then try again.",
        )
    if key == "rate_limit_exceeded" or "rate limit" in lowered:
        wait = data.get("retryAfter") if isinstance(data, dict) else None
        return MembraneError(
            ErrorCode.RATE_LIMITED,
            f"Mautic or Membrane is rate limiting requests. {said}.",
            f"Wait {f'{wait} seconds' if wait else 'a minute'} before trying again.",
        )
    if key == "access_denied":
        return MembraneError(
            ErrorCode.ACCESS_DENIED,
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
            ErrorCode.CONNECTION_NOT_FOUND,
            f"The Mautic connection was not found. {said}.",
            f"List your connections with `{LIST_CONNECTIONS_COMMAND}` and pass the right one with "
            "--connection-id (MAUTIC_MCP_CONNECTION_ID).",
        )
    if key == "not_found":
        return MembraneError(ErrorCode.NOT_FOUND, f"Not found. {said}.", "Check the id and try again.")
    if kind == "bad_request" or key in {"invalid_input", "bad_request", "validation_error"}:
        return MembraneError(
            ErrorCode.BAD_REQUEST, f"The request was rejected. {said}.", "Fix the input and try again."
        )
    return MembraneError(ErrorCode.FAILED, f"The Membrane CLI reported an error. {said}.")


API_FIXES: Final[Mapping[int, str]] = {
    400: "Fix the fields named above and try again.",
    401: f"Mautic refused the credentials: reconnect with `{reconnect_command(None)}`.",
    403: "The Mautic user or API settings do not allow this (is the API enabled?).",
    404: "Check the id or path; list the records to find the right id.",
    405: "This path does not accept that method; check Mautic's API documentation.",
    409: "The item is locked (being edited in Mautic); try again later.",
    422: "Fix the fields named above and try again.",
    429: "Wait a minute before trying again.",
}


def api_error(status: Any, response: Any, fallback: str) -> MembraneError:
    """An error answered by Mautic itself: read its `errors[]` (or old `error`) with field details."""
    details = mautic_error_text(response) or fallback
    status_text = f" with status {status}" if status else ""
    fix = API_FIXES.get(_as_int(status), "Check the request and try again.")
    return MembraneError(ErrorCode.API_ERROR, f"Mautic answered{status_text}: {details}.", fix)


def mautic_error_text(body: Any) -> str:
    """Mautic's error body as one line: each message with the fields it names."""
    if isinstance(body, str):
        parsed = parse_json(body.encode())
        body = parsed if parsed is not UNPARSED else body
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
            return quote(" ".join(p for p in parts if p))
        if isinstance(body.get("error"), dict | str):
            old = body["error"]
            return quote(str(old.get("message", old) if isinstance(old, dict) else old))
    if isinstance(body, str):
        return quote(body)
    return ""


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
