"""`mautic-mcp`: serve MCP over stdio (the default) or streamable HTTP, or check the set-up (`doctor`, `tools`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mautic_mcp.server import __version__

if TYPE_CHECKING:
    from mautic_mcp.server.config import Settings

# Settings (pydantic), anyio and the MCP SDK are imported where a command needs them, so that
# --version and --help pay for argparse alone.


def parser() -> argparse.ArgumentParser:
    # SUPPRESS keeps a subcommand from resetting a flag given before it (`mautic-mcp --sandbox tools`).
    settings = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = settings.add_argument_group("settings (each also read from the environment variable shown)")
    group.add_argument("--membrane-bin", metavar="PATH", help="the Membrane CLI [MEMBRANE_BIN; default: membrane]")
    group.add_argument(
        "--connection-id",
        metavar="ID",
        help="Membrane connection to use [MAUTIC_MCP_CONNECTION_ID; default: auto-detect]",
    )
    group.add_argument(
        "--intent",
        dest="intents",
        action="append",
        metavar="TEXT",
        help="what to discover actions for; repeatable [MAUTIC_MCP_INTENTS, one per line "
        "or ';'-separated; default: one per Mautic area]",
    )
    group.add_argument("--limit", metavar="N", help="actions per intent, 1-100 [MAUTIC_MCP_LIMIT; default: 20]")
    group.add_argument("--timeout", metavar="SECONDS", help="seconds per CLI call [MAUTIC_MCP_TIMEOUT; default: 60]")
    group.add_argument(
        "--max-concurrency", metavar="N", help="CLI processes at once [MAUTIC_MCP_MAX_CONCURRENCY; default: 8]"
    )
    group.add_argument(
        "--read-only",
        action="store_true",
        help="expose read actions only; proxy_request sends GET only [MAUTIC_MCP_READ_ONLY=1]",
    )
    group.add_argument(
        "--sandbox",
        action="store_true",
        help="use the bundled membrane-sandbox instead of Membrane [MAUTIC_MCP_SANDBOX=1]",
    )
    group.add_argument(
        "--max-result-chars",
        metavar="N",
        help="the most characters a tool result holds, 2000-1000000 [MAUTIC_MCP_MAX_RESULT_CHARS; default: 60000]",
    )
    group.add_argument(
        "--page-size", metavar="N", help="tools per tools/list page [MAUTIC_MCP_PAGE_SIZE; default: 100]"
    )
    group.add_argument(
        "--cache-dir",
        metavar="PATH",
        help="where the discovery cache is kept [MAUTIC_MCP_CACHE_DIR; default: the user cache folder]",
    )
    group.add_argument(
        "--no-cache",
        action="store_true",
        help="discover at every start, keep no cache [MAUTIC_MCP_NO_CACHE=1]",
    )
    group.add_argument(
        "--transport",
        metavar="NAME",
        help="stdio, or http (streamable HTTP at http://HOST:PORT/mcp) [MAUTIC_MCP_TRANSPORT; default: stdio]",
    )
    group.add_argument("--host", metavar="HOST", help="the address http binds to [MAUTIC_MCP_HOST; default: 127.0.0.1]")
    group.add_argument("--port", metavar="N", help="the port http listens on [MAUTIC_MCP_PORT; default: 8000]")
    group.add_argument(
        "--log-level",
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR, on stderr [MAUTIC_MCP_LOG_LEVEL; default: INFO when serving, "
        "WARNING for doctor, tools and demo]",
    )

    main = argparse.ArgumentParser(
        prog="mautic-mcp",
        description="An MCP server (stdio, or streamable HTTP with --transport http) that gives AI agents "
        "Mautic's actions as tools, through Membrane.",
        parents=[settings],
    )
    main.add_argument("--version", action="version", version=f"mautic-mcp {__version__}")
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", parents=[settings], help="serve MCP over stdio or HTTP (the default)")
    doctor = commands.add_parser("doctor", parents=[settings], help="check the set-up and say how to fix it")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    tools = commands.add_parser("tools", parents=[settings], help="print the tools these settings expose")
    tools.add_argument("--json", action="store_true", help="print the exact tools/list payload")
    demo = commands.add_parser("demo", help="run an MCP client session against the server on the sandbox")
    demo.add_argument(
        "--sandbox", action="store_true", default=argparse.SUPPRESS, help="the demo always runs on the sandbox"
    )
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; a reader that goes away early (`mautic-mcp tools | head -n 1`) ends it quietly."""
    try:
        status = run(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    except BaseExceptionGroup as group:  # a print inside a task group (the demo's client session)
        if group.split(BrokenPipeError)[1] is not None:
            raise
        return _reader_gone()
    return status


def _reader_gone() -> int:
    """The Python docs' recipe (signal module, "Note on SIGPIPE"): point stdout at devnull so the interpreter's
    own flush at exit cannot fail again, and exit 1 as Python does on EPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def run(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    import anyio

    from mautic_mcp.server.config import ENV_NAMES, ConfigError, build_settings
    from mautic_mcp.server.logs import OneLineFormatter

    try:
        settings = build_settings({name: getattr(args, name, None) for name in ENV_NAMES})
    except ConfigError as error:
        print(f"mautic-mcp: {error}", file=sys.stderr)
        return 2
    command = args.command or "serve"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level or ("INFO" if command == "serve" else "WARNING"), handlers=[handler])
    # The SDK's debug records quote raw protocol lines, which can hold header values.
    logging.getLogger("mcp").setLevel(max(logging.getLogger().level, logging.INFO))
    if command == "demo":
        from mautic_mcp.server.demo import run_demo

        return anyio.run(run_demo, settings.log_level)
    if command == "doctor":
        from mautic_mcp.server.doctor import run_doctor

        return anyio.run(run_doctor, settings, args.json)
    if command == "tools":
        from mautic_mcp.server.doctor import print_tools

        return anyio.run(print_tools, settings, args.json)
    return serve(settings)


def serve(settings: Settings) -> int:
    import anyio

    if settings.transport == "http":
        from mautic_mcp.server.http import serve_http_command

        return serve_http_command(settings)

    from mautic_mcp.server.server import serve_stdio

    try:
        anyio.run(serve_stdio, settings)
    except KeyboardInterrupt:
        return 130
    return 0
