"""The one way this server starts a process: the Membrane CLI, as an argv list, never a shell.

Each run gets stdin from /dev/null and a process group of its own, so that on a
timeout or an MCP cancellation the whole tree (a Node CLI and anything it spawned)
is killed and nothing is left behind. stdout and stderr are drained together so a
chatty child can never block on a full pipe, and only the first bytes are kept.

On POSIX a process is started synchronously and registered before the next await,
so a signal handler's `kill_all` or a cancellation can never miss one. On Linux the
server is also a child subreaper: whatever a CLI started that left its process group
(an update notifier that called setsid) is re-parented to us when the CLI exits, and
is found through /proc by the mark every CLI's environment carries, then ended.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final, Protocol

import anyio
from anyio.abc import ByteReceiveStream

from mautic_mcp.membrane.output import loggable, redact

log = logging.getLogger(__name__)

MAX_ARG_BYTES = 128 * 1024 - 1
"""Linux refuses any single argv entry of 128 KiB or more (MAX_ARG_STRLEN) with E2BIG."""

TERMINATE_GRACE_SECONDS = 1.0
TASKKILL_SECONDS = 5.0
EOF_PROMPT_SECONDS = 0.05
"""Once the CLI has exited, how long end-of-file may take before something else is assumed to hold the pipes."""
EOF_GRACE_SECONDS = 0.5
"""After strays holding the pipes were ended, how long to wait for end-of-file before using what was read.

A process that left the CLI's group (an update notifier) may hold the pipes open long after."""
POLL_SECONDS = 0.02
"""How often an exit is checked for where there is no pidfd to wait on (macOS)."""
SECRET_FLAGS = ("--input", "--data", "-d", "--header", "-H", "--query", "--pathParam")
RUN_MARK: Final = "MAUTIC_MCP_CLI_RUN"
"""The environment variable that marks a CLI process and everything it starts with the run it belongs to."""
PR_SET_CHILD_SUBREAPER: Final = 36
FINISHED_GROUPS_KEPT: Final = 256

_READ_CHUNK: Final = 256 * 1024
OVERFLOW_KEPT: Final = 64 * 1024
"""How much of an output that passed its cap is kept (the answer itself is lost): enough to quote."""
_PROC: Final = sys.platform.startswith("linux") and os.path.isdir("/proc/self/task")
_subreaper_set = False


class RunError(Exception):
    """The CLI could not be run to completion; `started` tells whether it ever ran."""

    started = False


class ExecutableNotFound(RunError):
    def __init__(self, program: str) -> None:
        super().__init__(f"{program!r} was not found")
        self.program = program


class InterpreterNotFound(ExecutableNotFound):
    """The program exists, but the interpreter its `#!` line names (or its loader) does not."""

    def __init__(self, program: str, interpreter: str | None) -> None:
        super().__init__(program)
        self.interpreter = interpreter


class ExecutableNotRunnable(RunError):
    def __init__(self, program: str, reason: str) -> None:
        super().__init__(f"{program!r} could not be started: {reason}")
        self.program = program


class ArgumentTooLarge(RunError):
    def __init__(self, size: int) -> None:
        super().__init__(f"one argument is {size:,} bytes; the OS accepts at most {MAX_ARG_BYTES:,}")
        self.size = size


class ArgumentInvalid(RunError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class RunTimeout(RunError):
    started = True

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s; the process was killed")
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class Completed:
    """What a finished process left: exit status and the kept part of its output.

    `stdout_truncated` means the output reached the cap: the CLI was killed there, unread to the end,
    and `stdout` holds at most its first `OVERFLOW_KEPT` bytes.
    """

    returncode: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool

    @property
    def killed_by_signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None


class Child(Protocol):
    """A started CLI process: anyio's Process on Windows, a `_PosixProcess` elsewhere."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdout(self) -> ByteReceiveStream | None: ...

    @property
    def stderr(self) -> ByteReceiveStream | None: ...

    async def wait(self) -> int: ...

    async def aclose(self) -> None: ...


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
        self.env = env
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._live: dict[int, Child] = {}
        """Run number -> its CLI process, from the moment the process exists until it is reaped."""
        self._runs = itertools.count(1)
        self._token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._mark = f"{RUN_MARK}={self._token}:".encode()
        """How this runner's mark starts in a process's environment."""
        self._strays: set[int] = set()
        """Left-behind processes this runner ended, kept until reaped (they are our children now)."""
        self._finished_groups: deque[int] = deque(maxlen=FINISHED_GROUPS_KEPT)
        self.peak_running = 0

    @property
    def env(self) -> dict[str, str] | None:
        """The CLI's environment, or None for this process's own (read when set: copying `os.environ`
        decodes every entry again, too slow to do for each call)."""
        return self._env

    @env.setter
    def env(self, env: Mapping[str, str] | None) -> None:
        self._env = dict(env) if env is not None else None
        self._base_env: Mapping[Any, Any]
        if self._env is not None:
            self._base_env = self._env  # the same dict: a change made to `env` in place is used
        elif sys.platform == "win32":
            self._base_env = dict(os.environ)
        else:  # this process's environment, encoded once: Popen would encode each entry again at every spawn
            self._base_env = {os.fsencode(name): os.fsencode(value) for name, value in os.environ.items()}

    @property
    def running(self) -> int:
        return len(self._live)

    def kill_all(self) -> None:
        """Kill every running CLI process group and (on Linux, found through /proc) every process a CLI
        call started, wherever it went: the last thing done before the server exits on a signal."""
        for process in list(self._live.values()):
            _signal_group(process, hard=True)
        if _PROC:
            for pid in self._marked_descendants():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    async def run(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = [*self.command, *args]
        check_argv(argv)
        limit = self.timeout if timeout is None else timeout
        async with self._limiter:
            started = time.monotonic()
            run = next(self._runs)
            # No await between the spawn and the bookkeeping: a cancellation or a signal
            # handler that runs at the next await finds the process in `_live`.
            process = await self._spawn(argv, run) if sys.platform == "win32" else self._start(argv, run)
            self._live[run] = process
            self.peak_running = max(self.peak_running, self.running)
            try:
                outcome = await self._collect(process, limit)
            finally:
                with anyio.CancelScope(shield=True):
                    await _reap(process)
                del self._live[run]
                self._finished_groups.append(process.pid)
                self._end_strays()
            elapsed = time.monotonic() - started
        if outcome is None:
            log.warning("%s timed out after %.1f s", describe_args(args), elapsed)
            raise RunTimeout(limit)
        stdout, stderr = outcome
        assert process.returncode is not None
        if log.isEnabledFor(logging.INFO):
            log.info("%s exited %s in %.2f s", describe_args(args), process.returncode, elapsed)
        return Completed(process.returncode, stdout.kept(), stderr.kept(), stdout.full)

    def _environment(self, run: int) -> dict[Any, Any]:
        mark = f"{self._token}:{run}"
        if self._env is None and sys.platform != "win32":
            return {**self._base_env, RUN_MARK.encode(): mark.encode()}
        return {**self._base_env, RUN_MARK: mark}

    def _start(self, argv: list[str], run: int) -> _PosixProcess:
        """Start the CLI at once (POSIX): the caller registers it before anything else can run."""
        _become_subreaper()
        env = self._environment(run)
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise _spawn_error(exc, argv, env) from None
        return _PosixProcess(popen)

    async def _spawn(self, argv: list[str], run: int) -> Child:
        """Start the CLI on Windows, where pipes cannot be waited on directly; anyio's process does it."""
        env = self._environment(run)
        try:
            return await anyio.open_process(
                argv,
                stdin=subprocess.DEVNULL,
                env=env,
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        except OSError as exc:
            raise _spawn_error(exc, argv, env) from None

    async def _collect(self, process: Child, limit: float) -> tuple[_Capture, _Capture] | None:
        """Read both pipes until the CLI exits (then briefly, for end-of-file), or None on timeout."""
        assert process.stdout is not None and process.stderr is not None
        stdout = _Capture(self.max_stdout_bytes, on_full=lambda: _signal_group(process, hard=True))
        stderr = _Capture(self.max_stderr_bytes)
        with anyio.move_on_after(limit) as deadline:
            async with anyio.create_task_group() as group:
                group.start_soon(stdout.drain, process.stdout)
                group.start_soon(stderr.drain, process.stderr)
                await process.wait()
                await _end_tree(process, hard=True)
                if not await _both_finished(stdout, stderr, EOF_PROMPT_SECONDS):
                    # Something that left the CLI's group holds our pipes open: a stray. End it,
                    # then wait a moment for end-of-file and use what was read.
                    self._end_strays()
                    await _both_finished(stdout, stderr, EOF_GRACE_SECONDS)
                group.cancel_scope.cancel()
        if deadline.cancelled_caught:
            return None
        return stdout, stderr

    def _marked_descendants(self) -> list[int]:
        """Every process below this one that a CLI of this runner started, or that one of those started."""
        found: list[int] = []
        queue = [(child, False) for child in _children(os.getpid())]
        while queue:
            pid, below_mark = queue.pop()
            marked = below_mark or self._run_of(pid) is not None
            if marked:
                found.append(pid)
            queue += [(child, marked) for child in _children(pid)]
        return found

    def _end_strays(self) -> None:
        """End what finished CLI calls left running, wherever it went; reap what was ended before.

        A stray is a child of ours (re-parented to us, the subreaper, when its CLI exited) whose
        environment carries this runner's mark; strays of a call whose CLI still runs are left alone.
        Linux only: elsewhere a process that leaves its group is not found.
        """
        if not _PROC:
            return
        mine = {p.pid for p in self._live.values()}
        orphans = _orphans(mine)
        if not orphans and not self._strays:
            return
        running = {run for run, p in self._live.items() if p.returncode is None}
        for _ in range(3):  # a stray may start another while it is being ended
            found = [pid for pid in orphans if pid not in self._strays and self._run_of(pid) not in (None, *running)]
            if not found:
                break
            for pid in found:
                log.warning("ending process %d, left running by a finished CLI call", pid)
                _kill_tree(pid)
                self._strays.add(pid)
                # It left the CLI's group for one of its own: the members it had are reaped as those of a
                # finished group are, when they turn up here as zombies.
                self._finished_groups.append(pid)
            orphans = _orphans(mine)
        self._reap_strays(orphans)

    def _run_of(self, pid: int) -> int | None:
        """The run whose mark `pid` carries, or None when it is not a process of this runner."""
        prefix = self._mark
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            return None
        for entry in environ.split(b"\0"):
            if entry.startswith(prefix):
                number = entry[len(prefix) :]
                return int(number) if number.isdigit() else None
        return None

    def _reap_strays(self, orphans: list[int]) -> None:
        """Collect the exit status of strays we ended and of dead members of finished CLI groups."""
        groups = set(self._finished_groups)
        for pid in orphans:
            stat = _stat(pid)
            if stat and stat.state == "Z" and stat.pgid in groups and stat.pgid != pid:
                self._strays.add(pid)
        for pid in list(self._strays):
            try:
                reaped, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                reaped = pid
            if reaped == pid:
                self._strays.discard(pid)


class _Capture:
    """The kept first bytes of one pipe; `full` once `cap` was passed (then reading stops).

    Chunks are kept as read and joined once, so a capture never costs more than its bytes plus
    one copy. Past the cap the answer is lost anyway: all but the first `OVERFLOW_KEPT` bytes are
    freed at once, so output far above the cap adds no more than that to the server's memory.
    """

    def __init__(self, cap: int, on_full: Callable[[], None] | None = None) -> None:
        self.cap = cap
        self.full = False
        self.finished = anyio.Event()
        self._chunks: list[bytes] = []
        self._size = 0
        self._on_full = on_full

    def kept(self) -> bytes:
        chunks, self._chunks = self._chunks, []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def drain(self, stream: ByteReceiveStream) -> None:
        try:
            async for chunk in stream:
                if self.full:  # drained so the CLI is not blocked, but nothing past the cap is kept
                    continue
                room = self.cap - self._size
                if room > 0:
                    kept = chunk if len(chunk) <= room else chunk[:room]
                    self._chunks.append(kept)
                    self._size += len(kept)
                if len(chunk) > room:
                    self.full = True
                    self._drop_overflow()
                    if self._on_full is not None:
                        # Endless output: stop reading and end the CLI now, rather than at the timeout.
                        self._on_full()
                        return
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            self.finished.set()

    def _drop_overflow(self) -> None:
        """Keep only a short prefix (for diagnostics) of output that passed the cap; free the rest now."""
        if self._size <= OVERFLOW_KEPT:
            return
        prefix = _prefix(self._chunks)
        self._chunks = [prefix]
        self._size = len(prefix)


def _prefix(chunks: list[bytes]) -> bytes:
    """The first OVERFLOW_KEPT bytes of `chunks`, copying no more than that."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        if size >= OVERFLOW_KEPT:
            break
        part = chunk[: OVERFLOW_KEPT - size]
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class _PipeStream(ByteReceiveStream):
    """One end of a child's pipe, read without blocking the event loop (POSIX)."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._fd = pipe.fileno()
        os.set_blocking(self._fd, False)
        self._closed = False

    async def receive(self, max_bytes: int = _READ_CHUNK) -> bytes:
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                data = os.read(self._fd, max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self._fd)
                continue
            if not data:
                raise anyio.EndOfStream
            return data

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            anyio.notify_closing(self._fd)
            self._pipe.close()


class _PosixProcess:
    """A CLI process started with Popen, waited for through a pidfd (Linux) or by polling."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None and popen.stderr is not None
        self._popen = popen
        self._stdout = _PipeStream(popen.stdout)
        self._stderr = _PipeStream(popen.stderr)
        self._pidfd = _pidfd(popen.pid)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    @property
    def stdout(self) -> ByteReceiveStream:
        return self._stdout

    @property
    def stderr(self) -> ByteReceiveStream:
        return self._stderr

    async def wait(self) -> int:
        while (code := self._popen.poll()) is None:
            if self._pidfd is not None:
                await anyio.wait_readable(self._pidfd)
            else:
                await anyio.sleep(POLL_SECONDS)
        return code

    async def aclose(self) -> None:
        await self._stdout.aclose()
        await self._stderr.aclose()
        if self._pidfd is not None:
            anyio.notify_closing(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _spawn_error(exc: OSError, argv: list[str], env: Mapping[Any, Any]) -> RunError:
    """Say why the OS would not start the CLI, naming a missing `#!` interpreter as such."""
    program = argv[0]
    if isinstance(exc, FileNotFoundError):
        found = program if os.sep in program else shutil.which(program, path=os.pathsep.join(os.get_exec_path(env)))
        if found and os.path.isfile(found):
            return InterpreterNotFound(program, _shebang(found))
        return ExecutableNotFound(program)
    if isinstance(exc, PermissionError):
        return ExecutableNotRunnable(program, "permission denied (is it executable?)")
    if exc.errno == errno.E2BIG:
        return ArgumentTooLarge(sum(len(os.fsencode(a)) for a in argv))
    return ExecutableNotRunnable(program, exc.strerror or str(exc))


def _shebang(path: str) -> str | None:
    """The interpreter a script's `#!` line names, or None for a binary (whose loader is missing)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    return words[0] if words else None


async def _both_finished(stdout: _Capture, stderr: _Capture, seconds: float) -> bool:
    """Whether both pipes reached end-of-file within `seconds`."""
    if stdout.finished.is_set() and stderr.finished.is_set():
        return True
    with anyio.move_on_after(seconds):
        await stdout.finished.wait()
        await stderr.finished.wait()
    return stdout.finished.is_set() and stderr.finished.is_set()


async def _reap(process: Child) -> None:
    """Make sure the process and its group are gone: TERM, a short grace, then KILL."""
    if process.returncode is None:
        await _end_tree(process, hard=False)
        with anyio.move_on_after(TERMINATE_GRACE_SECONDS):
            await process.wait()
    await _end_tree(process, hard=True)
    if process.returncode is None:
        await process.wait()
    await process.aclose()


async def _end_tree(process: Child, *, hard: bool) -> None:
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


def _signal_group(process: Child, *, hard: bool) -> None:
    """Signal the process group (POSIX), or kill the process itself where there are no groups."""
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGTERM)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)


# --- Linux: the subreaper and /proc -------------------------------------------------------------------


def _become_subreaper() -> None:
    """Make this process the one orphans of its CLI calls are re-parented to (once; Linux only)."""
    global _subreaper_set
    if _subreaper_set or not _PROC:
        return
    _subreaper_set = True
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            log.info("could not become a child subreaper: %s", os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as exc:
        log.info("could not become a child subreaper: %s", exc)


@dataclass(frozen=True, slots=True)
class _Stat:
    state: str
    pgid: int


def _stat(pid: int) -> _Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return _Stat(fields[0].decode(), int(fields[2]))


def _children(pid: int) -> list[int]:
    """The children of `pid`, from each of its threads' `children` file (re-parented orphans included)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(child) for child in fh.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _orphans(mine: set[int]) -> list[int]:
    """Our children that are not running CLIs: what was re-parented to us. An orphan goes to the subreaper's
    first live thread, the main one, so only its `children` file is read (a file per thread costs more)."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as fh:
            return [pid for pid in map(int, fh.read().split()) if pid not in mine]
    except (OSError, ValueError):
        return [pid for pid in _children(os.getpid()) if pid not in mine]


def _kill_tree(root: int) -> None:
    """SIGKILL `root`, its process group when it leads one, and every process below it."""
    tree = [root]
    seen = {root}
    for pid in tree:  # grows while walked: breadth first
        for child in _children(pid):
            if child not in seen:
                seen.add(child)
                tree.append(child)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(root, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# --- argv ------------------------------------------------------------------------------------------------


def check_argv(argv: Sequence[str]) -> None:
    """Refuse before spawning what the OS would refuse: E2BIG, or a NUL byte no argv can hold."""
    for arg in argv:
        if "\0" in arg:
            raise ArgumentInvalid("an argument holds a NUL character, which no program can receive")
        size = len(os.fsencode(arg))
        if size > MAX_ARG_BYTES:
            raise ArgumentTooLarge(size)


def describe_args(args: Sequence[str]) -> str:
    """A loggable form of a CLI call: positionals and flag names, never input, body, header or query values.

    On one line whatever the arguments hold, with credentials in positionals (a path) redacted.
    """
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
            shown.append(redact(arg))
    return loggable("membrane " + " ".join(shown))


def secret_values(args: Iterable[str]) -> list[str]:
    """The values of a call's secret flags (input, body, headers, query), to hide if the CLI echoes them."""
    values: list[str] = []
    pending = False
    for arg in args:
        if pending:
            values.append(arg)
            pending = False
            continue
        name, sep, value = arg.partition("=")
        if name in SECRET_FLAGS:
            if sep:
                values.append(value)
            else:
                pending = True
    return values
