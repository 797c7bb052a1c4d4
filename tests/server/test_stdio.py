"""The server's own stdio: JSON-RPC lines read and written on the event loop, whole and in order.

Real pipes throughout; the whole server over this transport is what every stdio test in
tests/e2e runs through, so these check the edges: split and joined lines, garbage, a client
that reads slowly or not at all, and which streams fall back to the SDK's transport.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from mautic_mcp.server.stdio import LineReader, LineWriter

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")

LONE = "\udc80"


def request(ident: int, method: str = "tools/list") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": {}}).encode()


def nonblocking_pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


async def read_all(reader: LineReader) -> list[SessionMessage | Exception]:
    return [item async for item in reader]


async def test_lines_split_and_joined_across_reads_arrive_one_message_each():
    read, write = nonblocking_pipe()
    reader = LineReader(read)
    got: list[SessionMessage | Exception] = []

    async def collect() -> None:
        got.extend(await read_all(reader))

    async with anyio.create_task_group() as group:
        group.start_soon(collect)
        first, second, third = request(1), request(2), request(3, "tools/call")
        os.write(write, first[:7])
        await anyio.sleep(0.02)
        os.write(write, first[7:] + b"\n" + second + b"\n\n   \n" + third[:3])
        await anyio.sleep(0.02)
        os.write(write, third[3:])  # the last line has no newline: end-of-file ends it
        os.close(write)
    os.close(read)
    assert [item.message.id for item in got if isinstance(item, SessionMessage)] == [1, 2, 3]
    assert all(isinstance(item, SessionMessage) for item in got), "blank lines are skipped, not errors"
    assert isinstance(got[2].message, JSONRPCRequest) and got[2].message.method == "tools/call"  # type: ignore[union-attr]


async def test_a_line_that_is_not_a_message_is_passed_on_as_its_error_and_reading_goes_on():
    read, write = nonblocking_pipe()
    os.write(write, b"not json\n" + b'{"jsonrpc":"2.0","id":"\xff\xfe"}\n' + request(7) + b"\n")
    os.close(write)
    got = await read_all(LineReader(read))
    os.close(read)
    assert isinstance(got[0], Exception) and isinstance(got[1], Exception)
    assert isinstance(got[2], SessionMessage) and got[2].message.id == 7


async def test_a_closed_reader_refuses_to_read():
    read, write = nonblocking_pipe()
    reader = LineReader(read)
    async with reader:
        pass
    with pytest.raises(anyio.ClosedResourceError):
        await reader.receive()
    os.close(read)
    os.close(write)


def response(ident: int, text: str) -> SessionMessage:
    return SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=ident, result={"text": text}))


async def test_big_lines_to_a_slow_reader_arrive_whole_and_in_order():
    read, write = nonblocking_pipe()
    writer = LineWriter(write)
    big = "x" * 300_000  # several times a pipe's buffer: the writer must wait for room
    received = bytearray()

    async def slow_reader() -> None:
        while True:
            await anyio.sleep(0.001)
            try:
                chunk = os.read(read, 8192)
            except BlockingIOError:
                continue
            if not chunk:
                return
            received.extend(chunk)

    async with anyio.create_task_group() as group:
        group.start_soon(slow_reader)
        async with anyio.create_task_group() as senders:
            for ident in range(6):
                senders.start_soon(writer.send, response(ident, f"{ident}{big}"))
        os.close(write)
    os.close(read)
    lines = bytes(received).split(b"\n")
    assert lines[-1] == b""
    messages = [json.loads(line) for line in lines[:-1]]
    assert sorted(m["id"] for m in messages) == list(range(6)), "every line whole: none torn by another"
    assert all(m["result"]["text"] == f"{m['id']}{big}" for m in messages)


async def test_what_cannot_be_encoded_is_repaired_or_dropped_never_written_broken():
    read, write = nonblocking_pipe()
    writer = LineWriter(write)
    await writer.send(response(1, f"a{LONE}b"))
    await writer.send(SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="n", params={"x": object()})))
    await writer.send(response(2, "fine"))
    os.close(write)
    data = os.read(read, 65536)
    os.close(read)
    lines = data.decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2]
    assert json.loads(lines[0])["result"]["text"] == "a\ufffdb"


async def test_a_write_to_a_closed_pipe_fails_that_send_and_every_later_one():
    read, write = nonblocking_pipe()
    os.close(read)
    writer = LineWriter(write)
    with pytest.raises(anyio.BrokenResourceError):
        await writer.send(response(1, "x"))
    with pytest.raises(anyio.BrokenResourceError):
        await writer.send(response(2, "y"))
    os.close(write)


async def test_a_send_cancelled_halfway_still_finishes_its_line():
    read, write = nonblocking_pipe()
    writer = LineWriter(write)
    received = bytearray()

    async def late_reader() -> None:
        await anyio.sleep(0.3)  # well after the cancel below
        while b"\n" not in received:
            await anyio.wait_readable(read)
            received.extend(os.read(read, 65536))

    async with anyio.create_task_group() as group:
        group.start_soon(late_reader)
        with anyio.move_on_after(0.05) as scope:
            await writer.send(response(1, "y" * 200_000))  # the pipe fills; nobody reads until the cancel
    assert scope.cancelled_caught
    await writer.send(response(2, "after"))
    os.close(write)
    while chunk := os.read(read, 65536):
        received.extend(chunk)
    os.close(read)
    lines = bytes(received).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2], "the cut line was finished, then the next one"


async def test_a_line_the_client_never_reads_gives_the_wire_up():
    read, write = nonblocking_pipe()
    writer = LineWriter(write)
    with anyio.move_on_after(0.05):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("mautic_mcp.server.stdio.FINISH_FRAME_SECONDS", 0.1)
            await writer.send(response(1, "z" * 200_000))
    with pytest.raises(anyio.BrokenResourceError):
        await writer.send(response(2, "after"))
    os.close(read)
    os.close(write)


# --- the process's own stdin and stdout -----------------------------------------------------------------

PROGRAM = textwrap.dedent(
    """
    import os, sys, anyio
    from mcp.shared.message import SessionMessage
    from mcp.types import JSONRPCResponse
    from mautic_mcp.server.stdio import selectable, stdio_streams

    async def main():
        print("fast path" if selectable() else "fallback", file=sys.stderr, flush=True)
        async with stdio_streams() as (read_stream, write_stream):
            async for item in read_stream:
                os.write(1, b"stray bytes to fd 1\\n")  # what a careless library or child would do
                print("a stray print", flush=True)
                await write_stream.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=item.message.id, result={})))
            await write_stream.aclose()
        os.write(1, b"after\\n")

    anyio.run(main)
    """
)


@pytest.mark.parametrize("stdin_kind", ["pipe", "file"])
def test_only_protocol_reaches_stdout_whichever_transport_serves(tmp_path: Path, stdin_kind: str):
    requests = request(1) + b"\n" + request(2) + b"\n"
    if stdin_kind == "file":
        (tmp_path / "in.jsonl").write_bytes(requests)
        with open(tmp_path / "in.jsonl", "rb") as stdin:
            done = subprocess.run(
                [sys.executable, "-P", "-c", PROGRAM], stdin=stdin, capture_output=True, timeout=30, check=True
            )
    else:
        done = subprocess.run([sys.executable, "-P", "-c", PROGRAM], input=requests, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
    stderr = done.stderr.decode()
    assert stderr.startswith("fast path" if stdin_kind == "pipe" else "fallback")
    lines = done.stdout.decode().splitlines()
    assert [json.loads(line)["id"] for line in lines[:-1]] == [1, 2], done.stdout
    assert lines[-1] == "after", "fd 1 is the process's stdout again once the transport is done"
    assert stderr.count("stray bytes to fd 1") == 2 and stderr.count("a stray print") == 2


def test_stdout_shared_with_stderr_is_served_by_the_sdk_transport():
    """Non-blocking mode would be shared with stderr, where the logs write with blocking calls."""
    done = subprocess.run(
        [sys.executable, "-P", "-c", PROGRAM],
        input=request(1) + b"\n",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=30,
        check=True,
    )
    text = done.stdout.decode()
    assert text.startswith("fallback")
    assert '{"jsonrpc":"2.0","id":1,"result":{}}' in text.splitlines()
