"""`membrane-sandbox`: accepts the `membrane` CLI's argv and answers from the local Mautic emulation.

Output convention: results go to stdout, as one compact JSON line with `--json`, as text without it.
Errors are a Membrane error object printed as one JSON line on stderr, and also on stdout when `--json`
was given (not for `request`, where `--json` describes the body sent); they exit 1. Usage errors print
the usage text on stderr and exit 2. Only `os`, `sys` and `time` load before a command needs more.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mautic_mcp.sandbox.args import Args
    from mautic_mcp.sandbox.knobs import Knobs

USAGE = """\
usage: membrane <command> [options]            (membrane-sandbox: a local stand-in for Mautic)

commands:
  status                                   whether you are logged in
  login [--tenant] | login complete CODE   log in (the sandbox is always logged in unless told otherwise)
  logout
  connection list | connection get ID
  search QUERY [--elementType=connector]
  connect --connectorId=ID | connect --connectionId=ID
  action list [--connectionId=ID] [--intent=TEXT] [--limit=N] [--cursor=C]
  action get ID_OR_KEY
  action run ID_OR_KEY --connectionId=ID [--input=JSON]
  request CONNECTION_ID PATH [-X METHOD] [-H "K: V"]... [-d BODY] [--json] [--rawData]
          [--query k=v]... [--pathParam k=v]...
  reset                                    delete the sandbox database and seed it again

options: --json (machine-readable output), --help, --version
environment: MEMBRANE_SANDBOX_DB, MEMBRANE_SANDBOX_STATE, MEMBRANE_SANDBOX_FAULT,
  MEMBRANE_SANDBOX_FAULT_ON, MEMBRANE_SANDBOX_KNOBS, MEMBRANE_SANDBOX_LOG (see the sandbox README)
"""

# command -> (flags it accepts besides --json/--help, fewest positionals, most positionals)
COMMANDS: dict[str, tuple[frozenset[str], int, int]] = {
    "status": (frozenset(), 0, 0),
    "login": (frozenset({"tenant"}), 0, 2),
    "logout": (frozenset(), 0, 0),
    "connection list": (frozenset(), 0, 0),
    "connection get": (frozenset(), 1, 1),
    "search": (frozenset({"elementType", "limit"}), 1, 1),
    "connect": (frozenset({"connectorId", "connectionId", "name"}), 0, 0),
    "action list": (frozenset({"connectionId", "connectionKey", "integrationKey", "intent", "limit", "cursor"}), 0, 0),
    "action get": (frozenset({"connectionId", "connectionKey"}), 1, 1),
    "action run": (frozenset({"connectionId", "connectionKey", "input"}), 1, 1),
    "request": (frozenset({"method", "header", "data", "rawData", "query", "pathParam"}), 2, 2),
    "reset": (frozenset(), 0, 0),
}
GROUPS = ("connection", "action")
NO_LOGIN_NEEDED = frozenset({"status", "login", "logout", "reset", "help", "version"})


class Usage(Exception):
    """Argv no command accepts."""


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))


def _resolve(args: Args) -> tuple[str, list[str]]:
    """The command name (`action run`) and its own positionals."""
    if args.flag("version"):
        return "version", []
    if args.flag("help") or (args.positionals[:1] == ["help"]):
        return "help", []
    if not args.positionals:
        raise Usage("no command given")
    head, rest = args.positionals[0], args.positionals[1:]
    if head in GROUPS:
        if not rest:
            raise Usage(f"`{head}` needs a subcommand")
        head, rest = f"{head} {rest[0]}", rest[1:]
    if head not in COMMANDS:
        raise Usage(f"unknown command `{head}`")
    allowed, fewest, most = COMMANDS[head]
    for name in args.options:
        if name not in allowed and name not in ("json", "help"):
            raise Usage(f"unknown option --{name} for `{head}`")
    if not fewest <= len(rest) <= most:
        raise Usage(f"`{head}` takes {fewest if fewest == most else f'{fewest} to {most}'} argument(s)")
    if head == "login" and rest and (rest[0] != "complete" or len(rest) != 2):
        raise Usage("use `membrane login complete CODE`")
    return head, rest


def main(argv: list[str] | None = None) -> int:
    """Runs one `membrane` command; returns the exit status."""
    start = time.time()
    argv = list(sys.argv[1:] if argv is None else argv)
    code = 1
    try:
        code = _main(argv, start)
    finally:
        if os.environ.get("MEMBRANE_SANDBOX_LOG"):
            from mautic_mcp.sandbox.faults import log_line, process_ids

            log_line({**process_ids(), "argv": argv, "start": start, "end": time.time(), "exit": code})
        _flush()
    return code


def _flush() -> None:
    """Flushes stdout, ignoring a reader that already went away."""
    try:
        sys.stdout.flush()
    except OSError:
        return


def _main(argv: list[str], start: float) -> int:
    from mautic_mcp.sandbox.args import UsageError, parse

    try:
        args = parse(argv)
        command, rest = _resolve(args)
    except (UsageError, Usage) as exc:
        sys.stderr.write(f"membrane: {exc}\n\n{USAGE}")
        return 2
    as_json = args.flag("json")
    errors_on_stdout = as_json and command != "request"
    from mautic_mcp.sandbox.errors import CliError

    try:
        from mautic_mcp.sandbox.knobs import KnobError, load

        try:
            knobs = load()
        except KnobError as exc:
            raise CliError("internal", "invalid_knob", str(exc)) from None
        fault = knobs.fault_for(command)
        if fault:
            early = _fault(fault, knobs, argv, start, as_json, command)
            if early is not None:
                return early
        if knobs.state == "logged_out" and command not in NO_LOGIN_NEEDED:
            raise CliError(
                "configuration",
                "not_authenticated",
                "Not logged in. Run `membrane login --tenant` to authenticate.",
            )
        if command == "help":
            sys.stdout.write(USAGE)
            return 0
        if command == "version":
            from mautic_mcp.sandbox import __version__

            sys.stdout.write(f"membrane-sandbox {__version__} (membrane-compatible)\n")
            return 0
        if command == "request":
            return _request(args, rest, knobs, fault)
        result = _run(command, args, rest, knobs)
        if fault == "huge":
            from mautic_mcp.sandbox.faults import inflate

            result = inflate(result, int(float(knobs.fault_arg)))
        _print(command, result, as_json or fault == "huge")
        return 0
    except CliError as exc:
        _error(exc.to_dict(), errors_on_stdout)
        return 1
    except Exception as exc:  # any failure becomes an `internal` error a caller can parse
        _error(
            {"type": "internal", "key": "internal_error", "message": f"{type(exc).__name__}: {exc}"}, errors_on_stdout
        )
        return 1


def _error(error: dict[str, Any], on_stdout: bool) -> None:
    line = _dumps(error) + "\n"
    if on_stdout:
        sys.stdout.write(line)
    sys.stderr.write(line)


def _fault(fault: str, knobs: Knobs, argv: list[str], start: float, as_json: bool, command: str) -> int | None:
    """Applies a fault that acts before the command runs; returns an exit status when it ends the run."""
    from mautic_mcp.sandbox import faults

    if fault == "slow":
        time.sleep(float(knobs.fault_arg))
    elif fault == "hang":
        faults.hang(argv, start)
    elif fault == "crash":
        faults.crash(argv, start)
    elif fault == "garbage":
        faults.garbage()
        return 0
    elif fault == "rate_limited":
        _error(faults.RATE_LIMITED, as_json and command != "request")
        return 1
    elif fault == "stderr_noise":
        faults.noise()
    return None


def _print(command: str, result: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(_dumps(result) + "\n")
        return
    from mautic_mcp.sandbox.text import render

    sys.stdout.write(render(command, result))


def _run(command: str, args: Args, rest: list[str], knobs: Knobs) -> Any:
    from mautic_mcp.sandbox import commands

    return commands.run(command, args, rest, knobs.state)


def _request(args: Args, rest: list[str], knobs: Knobs, fault: str) -> int:
    from mautic_mcp.sandbox import commands

    status, body = commands.request(args, rest, knobs.state)
    if 200 <= status < 300:
        if fault == "huge":
            from mautic_mcp.sandbox.faults import inflate

            body = inflate(body, int(float(knobs.fault_arg)))
        sys.stdout.write(_dumps(body) + "\n")
        return 0
    errors = body.get("errors") if isinstance(body, dict) else None
    detail = errors[0].get("message") if errors and isinstance(errors[0], dict) else str(body)[:200]
    _error(
        {
            "type": "bad_request",
            "key": "external_api_error",
            "message": f"Mautic API responded with status {status}: {detail}",
            "data": {"status": status, "response": body},
        },
        False,
    )
    return 1
