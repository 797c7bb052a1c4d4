"""The Membrane CLI's commands as typed async calls.

Each method builds an argv (never a shell line), runs it through the one
`Runner`, and returns the parsed answer or raises a `MembraneError` that says
what failed and which command fixes it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.errors import (
    INSTALL_COMMAND,
    ErrorCode,
    MembraneError,
    from_failed_run,
    from_run_error,
    output_too_deep,
    output_too_large,
)
from mautic_mcp.membrane.output import TOO_DEEP, UNPARSED, decode, is_error_object, page_items, parse_json, quote
from mautic_mcp.membrane.runner import Completed, RunError, Runner, secret_values

MAX_HIDDEN_VALUES = 200


class Membrane:
    """Typed commands over the runner. `program` names the CLI in messages."""

    def __init__(self, runner: Runner, *, program: str = "membrane", sandbox: bool = False) -> None:
        self.runner = runner
        self.program = program
        self.sandbox = sandbox

    async def version(self) -> str:
        done = await self._run(["--version"])
        if done.returncode != 0:
            raise self._failure(["--version"], done, None)
        return quote(decode(done.stdout).strip().splitlines()[0], 200) if done.stdout.strip() else "unknown"

    async def status(self) -> Any:
        return await self._json(["status", "--json"], None)

    async def list_connections(self) -> list[dict[str, Any]]:
        return _records(await self._json(["connection", "list", "--json"], None))

    async def list_actions(self, connection_id: str, intent: str, limit: int) -> list[Action]:
        """The catalog's first `limit` actions for `intent`, in Membrane's ranking; entries without an id are skipped.

        The CLI is not trusted to honour `--limit`: what it returns beyond it is dropped.
        """
        args = ["action", "list", f"--connectionId={connection_id}", f"--intent={intent}", f"--limit={limit}"]
        entries = _records(await self._json([*args, "--json"], connection_id))
        usable = (action for action in map(Action.from_entry, entries) if action is not None)
        return list(itertools.islice(usable, max(limit, 0)))  # a CLI that ignores --limit costs no more

    async def run_action(self, action_id: str, connection_id: str, arguments: Mapping[str, Any]) -> Any:
        payload = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        args = command(
            ["action", "run"], [action_id], [f"--connectionId={connection_id}", f"--input={payload}", "--json"]
        )
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
        options = [f"--method={method}"]
        options += [f"--query={key}={value}" for key, value in query]
        options += [f"--header={name}: {value}" for name, value in headers]
        if body is not None:
            options.append(f"--data={body}")
            options.append("--json" if json_body else "--rawData")
        args = command(["request"], [connection_id, path], options)
        done = await self._run(args)
        parsed = await _parse(done.stdout)
        if done.returncode != 0:
            raise self._failure(args, done, connection_id, parsed)
        if parsed is TOO_DEEP:
            raise output_too_deep()
        if parsed is UNPARSED:
            return decode(done.stdout)
        return parsed

    async def _run(self, args: list[str]) -> Completed:
        try:
            done = await self.runner.run(args)
        except RunError as exc:
            raise from_run_error(exc, program=self.program, sandbox=self.sandbox) from None
        if done.stdout_truncated:
            # The runner stopped the CLI at the cap: whatever it was doing, its answer is lost.
            raise output_too_large(self.runner.max_stdout_bytes)
        return done

    async def _json(self, args: list[str], connection_id: str | None) -> Any:
        done = await self._run(args)
        parsed = await _parse(done.stdout)
        if done.returncode == 0 and parsed is TOO_DEEP:
            raise output_too_deep()
        if done.returncode != 0 or parsed is UNPARSED or parsed is TOO_DEEP or is_error_object(parsed):
            raise self._failure(args, done, connection_id, parsed)
        return parsed

    def _failure(
        self, args: list[str], done: Completed, connection_id: str | None, parsed: Any = UNPARSED
    ) -> MembraneError:
        return from_failed_run(
            done,
            program=self.program,
            sandbox=self.sandbox,
            connection_id=connection_id,
            parsed=UNPARSED if parsed is TOO_DEEP else parsed,
            hide=hidden_values(args),
        )


PARSE_INLINE_BYTES = 256 * 1024
"""Answers larger than this are parsed in a worker thread: a 15 MB answer takes a moment the loop can't spare."""


async def _parse(raw: bytes) -> Any:
    if len(raw) <= PARSE_INLINE_BYTES:
        return parse_json(raw)
    return await anyio.to_thread.run_sync(parse_json, raw)


def hidden_values(args: list[str]) -> list[str]:
    """What a failure must not quote back: the call's input, body, header and query values, whole and
    each text inside a JSON input, so neither the log nor the result repeats them."""
    values = secret_values(args)
    for value in list(values):
        parsed = parse_json(value.encode())
        stack = [parsed]
        while stack and len(values) < MAX_HIDDEN_VALUES:
            node = stack.pop()
            if isinstance(node, dict):
                stack += node.values()
            elif isinstance(node, list):
                stack += node
            elif isinstance(node, str):
                values.append(node)
    return values


def command(head: list[str], positionals: list[str], options: list[str]) -> list[str]:
    """The argv of one command: positionals where the docs show them, after `--` when one could pass for a flag.

    An id from the catalog or the settings (`-h`) must never be read as an option; the documented
    order is kept otherwise, since the CLI's handling of `--` is inferred, not documented.
    """
    if any(positional.startswith("-") for positional in positionals):
        return [*head, *options, "--", *positionals]
    return [*head, *positionals, *options]


def _records(value: Any) -> list[dict[str, Any]]:
    records = page_items(value)
    if records is None:
        raise MembraneError(
            ErrorCode.UNREADABLE_OUTPUT,
            f"The Membrane CLI answered with an unexpected shape: {quote(json.dumps(value))}.",
            f"Update the CLI (`{INSTALL_COMMAND}`) and try again.",
        )
    return records
