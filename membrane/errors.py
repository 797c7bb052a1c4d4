"""What a failed CLI call means, said for an agent: what failed, and the command that fixes it.

Every failure of the Membrane CLI, of the connection or of Mautic becomes one
`MembraneError` with a code, a sentence on what failed and one on what to do.

What a failure means for the data is said only as far as it is known. Only a
structured error key or a known HTTP status may say a write was not made; free
text (which any action, Mautic plugin or proxy can print) may choose the hint,
never that claim. Every other failure of a CLI that ran leaves the outcome unknown.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Final

from mautic_mcp.membrane.output import (
    MAX_DEPTH,
    UNPARSED,
    decode,
    error_line,
    find_error,
    loggable,
    parse_json,
    quote,
    redact,
)
from mautic_mcp.membrane.runner import (
    ArgumentInvalid,
    ArgumentTooLarge,
    Completed,
    ExecutableNotFound,
    ExecutableNotRunnable,
    InterpreterNotFound,
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
    OUTPUT_TOO_DEEP = "output_too_deep"
    UNREADABLE_OUTPUT = "unreadable_output"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    NETWORK_ERROR = "network_error"
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


class MembraneError(Exception):
    """A failed CLI call: what failed (`what`) and what to do next (`fix`), each on one line.

    What it means for a write: `outcome_unknown` when the CLI may have done its work
    before it failed (a timeout, a crash, a 5xx, an unreadable answer); `not_made` only
    when a structured key or a known status says the request was refused before any change.
    """

    def __init__(
        self,
        code: ErrorCode,
        what: str,
        fix: str = "",
        *,
        outcome_unknown: bool = False,
        not_made: bool = False,
    ) -> None:
        what, fix = loggable(what), loggable(fix)
        super().__init__(code, what, fix)
        self.code = ErrorCode(code)
        self.what = what
        self.fix = fix
        self.outcome_unknown = outcome_unknown
        self.not_made = not_made and not outcome_unknown

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
        if self.not_made:
            return " The change was not made."
        return ""

    def hiding(self, values: Sequence[str]) -> MembraneError:
        """The same error with the call's own values (input, body, headers) taken out of what it quotes."""
        if not values:
            return self
        return MembraneError(
            self.code, redact(self.what, values), self.fix, outcome_unknown=self.outcome_unknown, not_made=self.not_made
        )


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


def interpreter_not_found(exc: InterpreterNotFound) -> MembraneError:
    """The CLI is there but the program its `#!` line names is not (a moved node, a broken install)."""
    if exc.interpreter is None:
        return MembraneError(
            ErrorCode.CLI_NOT_RUNNABLE,
            f"The Membrane CLI ({exc.program}) exists but could not be started: the program that runs it "
            "was not found.",
            f"Reinstall it with `{INSTALL_COMMAND}` and set MEMBRANE_BIN to its absolute path (`which membrane`).",
        )
    what = (
        f"The Membrane CLI ({exc.program}) was found, but the interpreter its first line names "
        f"({exc.interpreter}) was not found."
    )
    if "node" in os.path.basename(exc.interpreter):
        return MembraneError(
            ErrorCode.NODE_NOT_FOUND,
            what,
            "Install Node.js, or fix the script's first line (`#!/usr/bin/env node` finds node on PATH) and set "
            "PATH in the MCP client's `env` to include the folder of `node` (see `which node`).",
        )
    return MembraneError(
        ErrorCode.CLI_NOT_RUNNABLE,
        what,
        f"Reinstall the CLI (`{INSTALL_COMMAND}`) or fix its first line, and set MEMBRANE_BIN to its absolute path.",
    )


def cli_not_runnable(what: str) -> MembraneError:
    """The CLI was found but would not start (exit status 126, or the OS refused it)."""
    return MembraneError(
        ErrorCode.CLI_NOT_RUNNABLE,
        what,
        "Check that MEMBRANE_BIN points to the `membrane` executable and that it is executable (`chmod +x`).",
    )


def from_run_error(exc: RunError, *, program: str, sandbox: bool) -> MembraneError:
    """A CLI that could not be run to the end: not found, not runnable, input refused, or too slow."""
    if isinstance(exc, InterpreterNotFound):
        return interpreter_not_found(exc)
    if isinstance(exc, ExecutableNotFound):
        return cli_not_found(exc.program, sandbox=sandbox)
    if isinstance(exc, ExecutableNotRunnable):
        return cli_not_runnable(f"The Membrane CLI ({exc.program}) could not be started: {exc}.")
    if isinstance(exc, ArgumentTooLarge):
        return MembraneError(
            ErrorCode.INPUT_TOO_LARGE,
            f"The input is too large to pass to the Membrane CLI ({exc.size:,} bytes; the limit is 128 KiB).",
            "Send less in one call: split the work into several smaller calls.",
        )
    if isinstance(exc, ArgumentInvalid):
        return MembraneError(
            ErrorCode.BAD_REQUEST,
            f"The call could not be passed to the Membrane CLI: {exc}.",
            "Remove NUL characters from the arguments (ids come from the catalog or the settings) and try again.",
        )
    if isinstance(exc, RunTimeout):
        return MembraneError(
            ErrorCode.TIMEOUT,
            f"The Membrane CLI gave no answer within {exc.seconds:g} seconds and was stopped.",
            "Try again with a smaller request (a lower limit, a narrower search), or raise MAUTIC_MCP_TIMEOUT.",
            outcome_unknown=True,
        )
    return MembraneError(ErrorCode.FAILED, f"The Membrane CLI could not be run: {exc}.", outcome_unknown=exc.started)


def output_too_large(max_bytes: int) -> MembraneError:
    return MembraneError(
        ErrorCode.OUTPUT_TOO_LARGE,
        f"The answer was larger than {max_bytes / (1024 * 1024):g} MB; the CLI was stopped and the answer not read.",
        "Ask for less: fewer records (a lower limit), a narrower search, or one item by id.",
        outcome_unknown=True,
    )


def output_too_deep() -> MembraneError:
    return MembraneError(
        ErrorCode.OUTPUT_TOO_DEEP,
        f"The answer was nested too deeply to read (more than {MAX_DEPTH} levels).",
        "Ask for less (one item by id, fewer fields), or check the action in Membrane: its output may be broken.",
        outcome_unknown=True,
    )


def from_failed_run(
    done: Completed,
    *,
    program: str,
    sandbox: bool,
    connection_id: str | None,
    parsed: Any = UNPARSED,
    hide: Sequence[str] = (),
) -> MembraneError:
    """A CLI run that ended without the answer asked for: read its exit status, error object and stderr.

    `hide` holds the call's own values (input, body, headers): taken out of any text quoted back.
    """
    return _from_failed_run(done, program, sandbox, connection_id, parsed).hiding(hide)


def _from_failed_run(
    done: Completed, program: str, sandbox: bool, connection_id: str | None, parsed: Any
) -> MembraneError:
    stderr = decode(done.stderr)
    by_status = _from_exit_status(done, stderr, program, sandbox)
    if by_status is not None:
        return by_status
    error = find_error(None if parsed is UNPARSED else parsed, stderr)
    if error is not None:
        return classify(error, connection_id)
    if done.returncode == 0:
        return _unreadable(done, stderr, connection_id)
    text = stderr if stderr.strip() else decode(done.stdout)
    said = f"The Membrane CLI failed (exit status {done.returncode}): {quote(error_line(text)) or 'no message'}"
    return from_text(text, said, connection_id) or MembraneError(
        ErrorCode.FAILED,
        f"{said}.",
        "Run the same command in a terminal to see the details.",
        outcome_unknown=True,
    )


def _from_exit_status(done: Completed, stderr: str, program: str, sandbox: bool) -> MembraneError | None:
    """What the exit status alone says: killed by a signal, or the CLI (or node) could not be run."""
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
                f"The Membrane CLI was found but `node` was not: {quote(error_line(stderr))}.",
                "Set PATH in the MCP client's `env` to include the folder of `node` (see `which "
                "node`), or set MEMBRANE_BIN to an absolute path whose script can find node.",
            )
        return cli_not_found(program, sandbox=sandbox)
    if done.returncode == 126:
        return cli_not_runnable(f"The Membrane CLI ({program}) could not be executed: {quote(error_line(stderr))}.")
    return None


def _unreadable(done: Completed, stderr: str, connection_id: str | None) -> MembraneError:
    """Exit status 0 without a JSON answer: the hint stderr gives, or the output quoted."""
    if not done.stdout.strip() and stderr.strip():
        said = f"The Membrane CLI printed no answer: {quote(error_line(stderr))}"
        hinted = from_text(stderr, said, connection_id)
        if hinted is not None:
            return hinted
    return MembraneError(
        ErrorCode.UNREADABLE_OUTPUT,
        f"The Membrane CLI answered with output that is not JSON: {quote(decode(done.stdout)) or 'nothing'}.",
        f"Check that MEMBRANE_BIN is the Membrane CLI and that it is up to date (`{INSTALL_COMMAND}`).",
        outcome_unknown=True,
    )


def classify(error: Mapping[str, Any], connection_id: str | None) -> MembraneError:
    """Map a Membrane error object to what it means: its key and HTTP status decide, its text only hints."""
    key = str(error.get("key") or "").lower()
    kind = str(error.get("type") or "").lower()
    message = str(error.get("message") or "").strip() or "no message"
    data = error.get("data")
    said = f"Membrane said: {quote(message).rstrip('.')}"

    refused = _refused_by_key(key, said, data, connection_id)
    if refused is not None:
        return refused
    response = data.get("response") if isinstance(data, dict) else None
    status = data.get("status") if isinstance(data, dict) else None
    if response is not None or status is not None:
        return api_error(status, response, message)
    if key == "not_found" and "connection" in message.lower():
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
    hinted = from_text(message, f"The Membrane CLI reported an error. {said}", connection_id)
    if hinted is not None:
        return hinted
    return MembraneError(
        ErrorCode.FAILED,
        f"The Membrane CLI reported an error. {said}.",
        "Run the same command in a terminal to see the details.",
        outcome_unknown=True,
    )


def _refused_by_key(key: str, said: str, data: Any, connection_id: str | None) -> MembraneError | None:
    """Errors whose structured key says Membrane refused the call before it reached Mautic: nothing was made."""
    if key in {"not_authenticated", "unauthorized", "invalid_token"}:
        return _not_logged_in(f"The Membrane CLI is not logged in. {said}.", not_made=True)
    if key == "connection_is_defunct":
        return _defunct(f"The Mautic connection no longer works. {said}.", connection_id, not_made=True)
    if key in {"access_token_expired", "client_action_required"}:
        return _reconnect(f"The Mautic connection needs to be re-authorized. {said}.", connection_id, not_made=True)
    if key == "rate_limit_exceeded":
        wait = data.get("retryAfter") if isinstance(data, dict) else None
        return _rate_limited(f"Mautic or Membrane is rate limiting requests. {said}.", wait, not_made=True)
    if key == "access_denied":
        return MembraneError(
            ErrorCode.ACCESS_DENIED,
            f"Access was denied. {said}.",
            "Check that the Mautic user behind the connection has permission for this, "
            f"or reconnect with `{reconnect_command(connection_id)}`.",
        )
    return None


_LOGIN_TEXT: Final = re.compile(r"(?i)\bnot (?:logged|signed) in\b|\b(?:log|sign) ?in (?:first|again)\b|membrane login")
_DEFUNCT_TEXT: Final = re.compile(r"(?i)\bdefunct\b")
_RECONNECT_TEXT: Final = re.compile(r"(?i)\bre-?authori[sz]|\breconnect (?:it|the connection|your connection)\b")
_RATE_TEXT: Final = re.compile(r"(?i)\brate[- ]limit|\btoo many requests\b")
_NETWORK_TEXT: Final = re.compile(
    r"(?i)socket hang up|\bnetwork (?:error|timeout)\b|\bfetch failed\b"
    r"|\bE(?:TIMEDOUT|CONNRESET|CONNREFUSED|CONNABORTED|PIPE|AI_AGAIN|NOTFOUND|HOSTUNREACH|NETUNREACH)\b"
)
_SERVER_STATUS_TEXT: Final = re.compile(r"(?i)\b(?:status(?: code)?|HTTP/\d(?:\.\d)?)\s*:?\s*(5\d\d)\b")


def from_text(text: str, said: str, connection_id: str | None) -> MembraneError | None:
    """The hint free text gives (log in, reconnect, wait, a network failure): never a claim about the data.

    Anything can print these words (a Mautic database error, an action's own message), so
    the outcome of a write stays unknown whatever the text says.
    """
    if _NETWORK_TEXT.search(text):
        return MembraneError(
            ErrorCode.NETWORK_ERROR,
            f"The connection to Membrane or Mautic broke before an answer came. {said}.",
            "Try again in a moment; if it keeps happening, check the network and `membrane status`.",
            outcome_unknown=True,
        )
    server = _SERVER_STATUS_TEXT.search(text)
    if server:
        return MembraneError(
            ErrorCode.API_ERROR,
            f"Mautic or Membrane failed while handling the request (status {server.group(1)}). {said}.",
            "Wait a moment, then try again.",
            outcome_unknown=True,
        )
    if _RATE_TEXT.search(text):
        return _rate_limited(f"Mautic or Membrane may be rate limiting requests. {said}.", None, not_made=False)
    if _LOGIN_TEXT.search(text):
        return _not_logged_in(f"The Membrane CLI may not be logged in. {said}.", not_made=False)
    if _DEFUNCT_TEXT.search(text):
        return _defunct(f"The Mautic connection may no longer work. {said}.", connection_id, not_made=False)
    if _RECONNECT_TEXT.search(text):
        return _reconnect(f"The Mautic connection may need to be re-authorized. {said}.", connection_id, not_made=False)
    return None


def _not_logged_in(what: str, *, not_made: bool) -> MembraneError:
    return MembraneError(
        ErrorCode.NOT_LOGGED_IN,
        what,
        f"Run `{LOGIN_COMMAND}` in a terminal (on a machine without a browser, open the URL it prints "
        "and finish with `membrane login complete <code>`), then try again.",
        outcome_unknown=not not_made,
        not_made=not_made,
    )


def _defunct(what: str, connection_id: str | None, *, not_made: bool) -> MembraneError:
    return MembraneError(
        ErrorCode.CONNECTION_DEFUNCT,
        what,
        f"Reconnect it with `{reconnect_command(connection_id)}`, or create a new one: "
        f"`{FIND_CONNECTOR_COMMAND}`, then `membrane connect --connectorId=<id>`.",
        outcome_unknown=not not_made,
        not_made=not_made,
    )


def _reconnect(what: str, connection_id: str | None, *, not_made: bool) -> MembraneError:
    return MembraneError(
        ErrorCode.RECONNECT_NEEDED,
        what,
        f"Run `{reconnect_command(connection_id)}` and finish the authorization in the browser, then try again.",
        outcome_unknown=not not_made,
        not_made=not_made,
    )


def _rate_limited(what: str, wait: Any, *, not_made: bool) -> MembraneError:
    return MembraneError(
        ErrorCode.RATE_LIMITED,
        what,
        f"Wait {f'{quote(str(wait), 20)} seconds' if wait else 'a minute'} before trying again.",
        outcome_unknown=not not_made,
        not_made=not_made,
    )


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
REFUSED_STATUSES: Final = frozenset({401, 429})
"""Statuses that say Mautic refused the request before doing anything: a write was not made."""


def api_error(status: Any, response: Any, fallback: str) -> MembraneError:
    """An error answered by Mautic itself: read its `errors[]` (or old `error`) with field details.

    A 4xx is Mautic refusing the request; a 5xx, or no status at all, leaves a write's outcome unknown.
    """
    details = mautic_error_text(response) or quote(fallback)
    code = _as_int(status)
    status_text = f" with status {quote(str(status), 20)}" if status else ""
    if 400 <= code < 500:
        fix = API_FIXES.get(code, "Check the request and try again.")
        what = f"Mautic answered{status_text}: {details}."
        return MembraneError(ErrorCode.API_ERROR, what, fix, not_made=code in REFUSED_STATUSES)
    if code >= 500:
        what = f"Mautic failed while handling the request{status_text}: {details}."
        fix = "Wait a moment, then try again; if it keeps failing, check Mautic's logs."
    else:
        what = f"Mautic answered{status_text}: {details}."
        fix = "Check the request, then try again."
    return MembraneError(ErrorCode.API_ERROR, what, fix, outcome_unknown=True)


def mautic_error_text(body: Any) -> str:
    """Mautic's error body as one line: each message with the fields it names."""
    if isinstance(body, str):
        parsed = parse_json(body.encode())
        body = parsed if isinstance(parsed, dict | list) else body
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
