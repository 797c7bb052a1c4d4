"""The Membrane CLI's commands as typed async calls.

Each method builds an argv (never a shell line), runs it through the one
`Runner`, and returns the parsed answer or raises a `MembraneError` that says
what failed and which command fixes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mautic_mcp.membrane.catalog import Action
from mautic_mcp.membrane.errors import INSTALL_COMMAND, ErrorCode, MembraneError, from_failed_run, from_run_error
from mautic_mcp.membrane.output import UNPARSED, decode, is_error_object, page_items, parse_json, quote
from mautic_mcp.membrane.runner import Completed, RunError, Runner


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
        return decode(done.stdout).strip().splitlines()[0] if done.stdout.strip() else "unknown"

    async def status(self) -> Any:
        return await self._json(["status", "--json"], None)

    async def list_connections(self) -> list[dict[str, Any]]:
        return _records(await self._json(["connection", "list", "--json"], None))

    async def list_actions(self, connection_id: str, intent: str, limit: int) -> list[Action]:
        """The catalog's actions for `intent`, in Membrane's ranking; entries without an id are skipped."""
        args = ["action", "list", f"--connectionId={connection_id}", f"--intent={intent}", f"--limit={limit}"]
        entries = _records(await self._json([*args, "--json"], connection_id))
        return [action for action in map(Action.from_entry, entries) if action is not None]

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
        parsed = parse_json(done.stdout)
        if done.returncode != 0:
            raise self._failure(done, connection_id, parsed)
        if parsed is UNPARSED:
            return decode(done.stdout)
        return parsed

    async def _run(self, args: list[str]) -> Completed:
        try:
            done = await self.runner.run(args)
        except RunError as exc:
            raise from_run_error(exc, program=self.program, sandbox=self.sandbox) from None
        if done.stdout_truncated and done.returncode == 0:
            raise MembraneError(
                ErrorCode.OUTPUT_TOO_LARGE,
                f"The answer was larger than {self.runner.max_stdout_bytes // (1024 * 1024)} MB and was not read.",
                "Ask for less: fewer records (a lower limit), a narrower search, or one item by id.",
            )
        return done

    async def _json(self, args: list[str], connection_id: str | None) -> Any:
        done = await self._run(args)
        parsed = parse_json(done.stdout)
        if done.returncode != 0 or parsed is UNPARSED or is_error_object(parsed):
            raise self._failure(done, connection_id, parsed)
        return parsed

    def _failure(self, done: Completed, connection_id: str | None, parsed: Any = UNPARSED) -> MembraneError:
        return from_failed_run(
            done, program=self.program, sandbox=self.sandbox, connection_id=connection_id, parsed=parsed
        )


def _records(value: Any) -> list[dict[str, Any]]:
    records = page_items(value)
    if records is None:
        raise MembraneError(
            ErrorCode.UNREADABLE_OUTPUT,
            f"The Membrane CLI answered with an unexpected shape: {quote(json.dumps(value))}.",
            f"Update the CLI (`{INSTALL_COMMAND}`) and try again.",
        )
    return records
