"""Stdio for the MCP server: JSON-RPC lines read and written on the event loop itself.

The SDK's `stdio_server` reads a line, writes an answer and flushes it through worker
threads, three thread hand-offs for each request and its answer: most of what a call
through the server cost above the CLI's own time. When both standard streams are pipes
or sockets, as every MCP client starts a server, `stdio_streams` reads and writes them
non-blocking and waits on the event loop's selector instead. A terminal, a file, stdout
shared with stderr, or Windows is served by the SDK's transport, as before.

Either way, while serving fd 0 reads the null device and fd 1 writes to stderr, so a
stray `print` or child process cannot corrupt the wire; both are restored on exit.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Final

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter

from mautic_mcp.server.wire import WireSafeStream, wire_line

READ_CHUNK: Final = 256 * 1024
FINISH_FRAME_SECONDS: Final = 5.0
"""How long a write cancelled halfway still waits to finish its line: a torn line would break every
message after it, so it is finished if the client reads at all, and the wire given up if not."""


def _pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(a: int, b: int) -> bool:
    try:
        first, second = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def selectable() -> bool:
    """Whether stdin and stdout can be served on the event loop: pipes or sockets, on POSIX, and stdout
    not shared with stderr (non-blocking mode is shared, and the logs write to stderr with blocking calls)."""
    if sys.platform == "win32":
        return False
    return _pipe_or_socket(0) and _pipe_or_socket(1) and not _same_file(1, 2)


@contextlib.contextmanager
def _claimed(fd: int) -> Iterator[int]:
    """A private non-blocking duplicate of `fd` for the wire; `fd` itself diverted until exit."""
    import fcntl

    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    flags = fcntl.fcntl(private, fcntl.F_GETFL)
    diversion = os.open(os.devnull, os.O_RDONLY) if fd == 0 else os.dup(2)
    try:
        fcntl.fcntl(private, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        os.dup2(diversion, fd)
    finally:
        os.close(diversion)
    try:
        yield private
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(private, fcntl.F_SETFL, flags)
        with contextlib.suppress(OSError):
            os.dup2(private, fd)
        os.close(private)


class LineReader:
    """JSON-RPC messages from a non-blocking fd, one per line; a line that is not one is passed on as
    the exception it raised, for the SDK to answer, as its own transport does."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._searched = 0
        self._eof = False
        self._closed = False

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\n", self._searched)
        if end < 0:
            self._searched = len(self._buffer)
            if not self._eof or not self._buffer:
                return None
            end = len(self._buffer)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._searched = 0
        return line

    async def receive(self) -> SessionMessage | Exception:
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            line = self._line()
            if line is not None:
                if not line.strip():
                    continue
                try:
                    message = jsonrpc_message_adapter.validate_json(line.decode("utf-8", "replace"), by_name=False)
                except Exception as exc:
                    return exc
                return SessionMessage(message)
            if self._eof:
                raise anyio.EndOfStream
            await anyio.wait_readable(self._fd)
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> LineReader:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class LineWriter:
    """JSON-RPC messages to a non-blocking fd, one whole line each, in the order they were sent; what cannot
    be written is repaired or answered with an error for its request alone (see `wire_line`)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = anyio.Lock()
        self._broken = False

    async def send(self, item: SessionMessage, /) -> None:
        line = wire_line(item)
        if line is None:
            return
        async with self._lock:
            if self._broken:
                raise anyio.BrokenResourceError
            data = memoryview(line)
            while len(data):
                try:
                    data = data[self._write_some(data) :]
                except BlockingIOError:
                    try:
                        await anyio.wait_writable(self._fd)
                    except anyio.get_cancelled_exc_class():
                        if len(data) < len(line):
                            await self._finish(data)
                        raise

    def _write_some(self, data: memoryview) -> int:
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            raise
        except OSError as exc:
            self._broken = True
            raise anyio.BrokenResourceError from exc

    async def _finish(self, data: memoryview) -> None:
        """The rest of a line whose writer was cancelled; the wire is given up if the client reads nothing."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(FINISH_FRAME_SECONDS):
            while len(data):
                try:
                    data = data[self._write_some(data) :]
                except BlockingIOError:
                    await anyio.wait_writable(self._fd)
        self._broken = self._broken or bool(len(data))

    async def aclose(self) -> None:
        pass

    async def __aenter__(self) -> LineWriter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@contextlib.asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]]:
    """The server's read and write streams over stdin and stdout, on the loop where it can; the write
    stream passes on only what can be written."""
    if not selectable():
        async with stdio_server() as (read_stream, write_stream):
            yield read_stream, WireSafeStream(write_stream)
        return
    with _claimed(0) as stdin, _claimed(1) as stdout:
        yield LineReader(stdin), LineWriter(stdout)
