"""The one way this server starts a process: the Membrane CLI, as an argv list, never a shell.

Each run gets stdin from /dev/null and a process group of its own, so that on a
timeout or an MCP cancellation the whole tree (a Node CLI and anything it spawned)
is killed and nothing is left behind. stdout and stderr are drained together so a
chatty child can never block on a full pipe, and only the first bytes are kept.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import ByteReceiveStream, Process

log = logging.getLogger(__name__)

MAX_ARG_BYTES = 128 * 1024 - 1
"""Linux refuses any single argv entry of 128 KiB or more (MAX_ARG_STRLEN) with E2BIG."""

TERMINATE_GRACE_SECONDS = 1.0
TASKKILL_SECONDS = 5.0
SECRET_FLAGS = ("--input", "--data", "-d", "--header", "-H")


class RunError(Exception):
    """The CLI could not be run to completion; `started` tells whether it ever ran."""

    started = False


class ExecutableNotFound(RunError):
    def __init__(self, program: str) -> None:
        super().__init__(f"{program!r} was not found")
        self.program = program


class ExecutableNotRunnable(RunError):
    def __init__(self, program: str, reason: str) -> None:
        super().__init__(f"{program!r} could not be started: {reason}")
        self.program = program


class ArgumentTooLarge(RunError):
    def __init__(self, size: int) -> None:
        super().__init__(f"one argument is {size:,} bytes; the OS accepts at most {MAX_ARG_BYTES:,}")
        self.size = size


class RunTimeout(RunError):
    started = True

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s; the process was killed")
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class Completed:
    """What a finished process left: exit status and the kept part of its output."""

    returncode: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool

    @property
    def killed_by_signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None


class Runner:
    """Runs the CLI with a concurrency cap, a timeout and byte caps on its output."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: float,
        max_concurrency: int,
        max_stdout_bytes: int = 16 * 1024 * 1024,
        max_stderr_bytes: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = tuple(command)
        self.timeout = timeout
        self.max_stdout_bytes = max_stdout_bytes
        self.max_stderr_bytes = max_stderr_bytes
        self.env = dict(env) if env is not None else None
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._live: set[Process] = set()
        self.peak_running = 0

    @property
    def running(self) -> int:
        return len(self._live)

    def kill_all(self) -> None:
        """Kill every running CLI process group now: the last thing done before the server exits on a signal."""
        for process in list(self._live):
            _signal_group(process, hard=True)

    async def run(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = [*self.command, *args]
        check_argv(argv)
        limit = self.timeout if timeout is None else timeout
        async with self._limiter:
            started = time.monotonic()
            process = await self._spawn(argv)
            self._live.add(process)
            self.peak_running = max(self.peak_running, self.running)
            try:
                outcome = await self._collect(process, limit)
            finally:
                with anyio.CancelScope(shield=True):
                    await _reap(process)
                self._live.discard(process)
            elapsed = time.monotonic() - started
        if outcome is None:
            log.warning("%s timed out after %.1f s", describe_args(args), elapsed)
            raise RunTimeout(limit)
        (stdout, truncated), (stderr, _) = outcome
        assert process.returncode is not None
        log.info("%s exited %s in %.2f s", describe_args(args), process.returncode, elapsed)
        return Completed(process.returncode, stdout, stderr, truncated)

    async def _spawn(self, argv: list[str]) -> Process:
        program = argv[0]
        try:
            if sys.platform == "win32":
                return await anyio.open_process(
                    argv,
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                    creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,
                )
            return await anyio.open_process(argv, stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        except FileNotFoundError:
            raise ExecutableNotFound(program) from None
        except PermissionError:
            raise ExecutableNotRunnable(program, "permission denied (is it executable?)") from None
        except OSError as exc:
            if exc.errno == errno.E2BIG:
                raise ArgumentTooLarge(sum(len(os.fsencode(a)) for a in argv)) from None
            raise ExecutableNotRunnable(program, exc.strerror or str(exc)) from None

    async def _collect(self, process: Process, limit: float) -> tuple[tuple[bytes, bool], tuple[bytes, bool]] | None:
        assert process.stdout is not None and process.stderr is not None
        results: dict[str, tuple[bytes, bool]] = {}

        async def drain(name: str, stream: ByteReceiveStream, cap: int) -> None:
            results[name] = await _read_capped(stream, cap)

        with anyio.move_on_after(limit):
            async with anyio.create_task_group() as group:
                group.start_soon(drain, "stdout", process.stdout, self.max_stdout_bytes)
                group.start_soon(drain, "stderr", process.stderr, self.max_stderr_bytes)
                await process.wait()
                # Whatever is left in the group after the CLI exited is a stray child
                # holding our pipes open: end it so the drains see end-of-file.
                await _end_tree(process, hard=True)
            return results["stdout"], results["stderr"]
        return None


async def _read_capped(stream: ByteReceiveStream, cap: int) -> tuple[bytes, bool]:
    kept = bytearray()
    truncated = False
    try:
        async for chunk in stream:
            room = cap - len(kept)
            if room > 0:
                kept += chunk[:room]
            if len(chunk) > room:
                truncated = True
    except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass
    return bytes(kept), truncated


async def _reap(process: Process) -> None:
    """Make sure the process and its group are gone: TERM, a short grace, then KILL."""
    if process.returncode is None:
        await _end_tree(process, hard=False)
        with anyio.move_on_after(TERMINATE_GRACE_SECONDS):
            await process.wait()
    await _end_tree(process, hard=True)
    if process.returncode is None:
        await process.wait()
    await process.aclose()


async def _end_tree(process: Process, *, hard: bool) -> None:
    """End the process and everything it started, without blocking the event loop."""
    if sys.platform == "win32":
        if process.returncode is None:
            with anyio.move_on_after(TASKKILL_SECONDS), contextlib.suppress(OSError):
                await anyio.run_process(
                    ["taskkill", "/T", "/F", "/PID", str(process.pid)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
        return
    _signal_group(process, hard=hard)


def _signal_group(process: Process, *, hard: bool) -> None:
    """Signal the process group (POSIX), or kill the process itself where there are no groups."""
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            process.kill()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)


def check_argv(argv: Sequence[str]) -> None:
    """Refuse before spawning what the OS would refuse with E2BIG."""
    for arg in argv:
        size = len(os.fsencode(arg))
        if size > MAX_ARG_BYTES:
            raise ArgumentTooLarge(size)


def describe_args(args: Sequence[str]) -> str:
    """A loggable form of a CLI call: positionals and flag names, never input, body or header values."""
    shown: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            shown.append("…")
            skip_next = False
            continue
        name, sep, _ = arg.partition("=")
        if name in SECRET_FLAGS:
            shown.append(f"{name}=…" if sep else name)
            skip_next = not sep
        else:
            shown.append(arg)
    return "membrane " + " ".join(shown)
