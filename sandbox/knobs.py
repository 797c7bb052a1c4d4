"""Knobs that put the sandbox into a chosen state or make it fail in a chosen way.

Read from the environment at every invocation, then overridden by the JSON file named by
`MEMBRANE_SANDBOX_KNOBS` (keys `state`, `fault`, `fault_on`) when that file exists, so a test can change
how a long-running server's CLI calls behave between two calls. Unset knobs cost one dict lookup each.

MEMBRANE_SANDBOX_STATE
    `ready` (default): logged in, one READY Mautic connection.
    `logged_out`: `status` says `loggedIn: false`; every other command except login, logout, reset,
    --help and --version fails with configuration/not_authenticated.
    `no_connection`: `connection list` is empty; the sandbox connection id is not found.
    `needs_reconnect`: the connection is CLIENT_ACTION_REQUIRED; `action run` and `request` fail with
    connection/access_token_expired.
    `defunct`: the connection is CONFIGURATION_ERROR and `isDefunct`; `action run` and `request` fail
    with connection/connection_is_defunct.
MEMBRANE_SANDBOX_FAULT
    `slow:SECONDS` sleep, then answer normally. `hang` start a grandchild that sleeps forever in the same
    process group, then sleep forever. `garbage` print non-JSON text, exit 0. `huge:BYTES` answer with
    valid JSON of about BYTES bytes in the command's normal shape. `crash` kill itself with SIGKILL
    (exit 137 on Windows). `rate_limited` fail with bad_request/rate_limit_exceeded. `stderr_noise`
    print warnings to stderr, then answer normally.
MEMBRANE_SANDBOX_FAULT_ON
    Commands the fault applies to, comma-separated (a JSON list in the file), e.g. `action run,request`;
    `action` covers every `action …` command. Default: every command except `reset`.
MEMBRANE_SANDBOX_LOG
    A file that gets one JSON line per invocation: pid, pgid, argv, start, end, exit.
MEMBRANE_SANDBOX_DB
    The SQLite store (see store.py for the default).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

STATES = ("ready", "logged_out", "no_connection", "needs_reconnect", "defunct")
FAULTS = ("slow", "hang", "garbage", "huge", "crash", "rate_limited", "stderr_noise")
FAULTS_WITH_ARG = ("slow", "huge")


class KnobError(ValueError):
    """A knob with a value the sandbox does not know; reported instead of silently ignored."""


class Knobs:
    """The state and fault in force for this invocation."""

    def __init__(self, state: str, fault: str, fault_arg: str, fault_on: tuple[str, ...] | None) -> None:
        self.state = state
        self.fault = fault
        self.fault_arg = fault_arg
        self.fault_on = fault_on

    def fault_for(self, command: str) -> str:
        """The fault to apply to `command`, or "" when none applies."""
        if not self.fault:
            return ""
        if self.fault_on is None:
            return "" if command == "reset" else self.fault
        for target in self.fault_on:
            if command == target or command.startswith(target + " "):
                return self.fault
        return ""


def _split_on(value: object) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise KnobError(f"fault_on must be a list or a comma-separated string, not {value!r}")
    return tuple(" ".join(str(item).split()) for item in items if str(item).strip())


def load(environ: Mapping[str, str] | None = None) -> Knobs:
    """Environment first, then the knobs file, checked for values the sandbox knows."""
    env = os.environ if environ is None else environ
    state: object = env.get("MEMBRANE_SANDBOX_STATE") or "ready"
    fault: object = env.get("MEMBRANE_SANDBOX_FAULT") or ""
    fault_on: object = env.get("MEMBRANE_SANDBOX_FAULT_ON")
    knobs_path = env.get("MEMBRANE_SANDBOX_KNOBS")
    if knobs_path and os.path.exists(knobs_path):
        import json

        try:
            with open(knobs_path, encoding="utf-8") as fh:
                text = fh.read()
            overrides = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as exc:
            raise KnobError(f"cannot read knobs file {knobs_path}: {exc}") from exc
        if not isinstance(overrides, dict):
            raise KnobError(f"knobs file {knobs_path} must hold a JSON object")
        state = overrides.get("state", state) or "ready"
        fault = overrides.get("fault", fault) or ""
        fault_on = overrides.get("fault_on", fault_on)
    if state not in STATES:
        raise KnobError(f"unknown state {state!r}; expected one of {', '.join(STATES)}")
    if not isinstance(fault, str):
        raise KnobError(f"fault must be a string, not {fault!r}")
    name, _, arg = fault.partition(":")
    if name and name not in FAULTS:
        raise KnobError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    if name in FAULTS_WITH_ARG:
        try:
            if float(arg) < 0:
                raise ValueError
        except ValueError:
            raise KnobError(f"fault {name} needs a non-negative number, as in {name}:2") from None
    return Knobs(str(state), name, arg, _split_on(fault_on))
