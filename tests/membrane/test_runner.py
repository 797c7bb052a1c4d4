"""The one subprocess runner: caps, timeouts, cancellation, process groups, concurrency."""

import os
import sys
import textwrap
import time

import anyio
import pytest

from mautic_mcp.membrane.runner import (
    ArgumentTooLarge,
    ExecutableNotFound,
    ExecutableNotRunnable,
    Runner,
    RunTimeout,
    describe_args,
)
from tests.support import alive

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX here")

HANG_WITH_GRANDCHILD = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(sys.argv[1], "w").write(f"{child.pid}\\n")
    time.sleep(600)
    """
)


def python_runner(**kwargs) -> Runner:
    return Runner(
        [sys.executable, "-c"], timeout=kwargs.pop("timeout", 10), max_concurrency=kwargs.pop("n", 4), **kwargs
    )


async def wait_for_pid(path) -> int:
    for _ in range(200):
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        await anyio.sleep(0.05)
    raise AssertionError("the child never started")


async def test_output_and_exit_status():
    done = await python_runner().run(["import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")


async def test_stdout_over_the_cap_stops_the_cli_at_once():
    started = time.monotonic()
    done = await python_runner(max_stdout_bytes=1000).run(["import sys\nwhile True: sys.stdout.write('x' * 65536)"])
    assert len(done.stdout) == 1000 and done.stdout_truncated and done.killed_by_signal == 9
    assert time.monotonic() - started < 5, "endless output is not waited on until the timeout"


async def test_stderr_over_the_cap_is_drained_not_fatal():
    code = "import sys; sys.stderr.write('e' * 2_000_000); print('answer')"
    done = await python_runner(max_stderr_bytes=1000).run([code])
    assert done.returncode == 0 and done.stdout == b"answer\n" and len(done.stderr) == 1000


async def test_stdin_is_empty():
    done = await python_runner().run(["import sys; print(repr(sys.stdin.read()))"])
    assert done.stdout.strip() == b"''"


async def test_timeout_kills_the_whole_group(tmp_path):
    marker = tmp_path / "pid"
    with pytest.raises(RunTimeout):
        await python_runner(timeout=1).run([HANG_WITH_GRANDCHILD, str(marker)])
    grandchild = int(marker.read_text())
    await anyio.sleep(0.2)
    assert not alive(grandchild)


async def test_cancellation_kills_the_whole_group(tmp_path):
    marker = tmp_path / "pid"
    runner = python_runner(timeout=60)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run, [HANG_WITH_GRANDCHILD, str(marker)])
        grandchild = await wait_for_pid(marker)
        group.cancel_scope.cancel()
    await anyio.sleep(0.2)
    assert not alive(grandchild)
    assert runner.running == 0


async def test_stray_child_holding_the_pipe_does_not_block(tmp_path):
    code = (
        "import subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); print('done')"
    )
    started = time.monotonic()
    done = await python_runner(timeout=30).run([code])
    assert done.stdout == b"done\n"
    assert time.monotonic() - started < 10


async def test_concurrency_is_capped():
    runner = python_runner(n=3)
    async with anyio.create_task_group() as group:
        for _ in range(9):
            group.start_soon(runner.run, ["import time; time.sleep(0.3)"])
    assert runner.peak_running == 3 and runner.running == 0


async def test_missing_and_unrunnable_programs(tmp_path):
    with pytest.raises(ExecutableNotFound):
        await Runner([str(tmp_path / "nope")], timeout=5, max_concurrency=1).run([])
    script = tmp_path / "membrane"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(ExecutableNotRunnable):
        await Runner([str(script)], timeout=5, max_concurrency=1).run([])


async def test_arguments_over_the_os_limit_are_refused_before_spawning():
    with pytest.raises(ArgumentTooLarge):
        await python_runner().run(["pass", "x" * 200_000])


def test_logged_form_hides_input_body_and_headers():
    text = describe_args(
        [
            "action",
            "run",
            "a1",
            '--input={"password":"hunter2"}',
            "-H",
            "Authorization: Bearer s3cret",
            "--data=secret-body",
        ]
    )
    assert "hunter2" not in text and "s3cret" not in text and "secret-body" not in text
    assert text.startswith("membrane action run a1 --input=…")


async def test_stderr_over_the_cap_keeps_its_first_bytes_only():
    """Past the cap stderr is still drained, and what is kept is the start of it, never later chunks."""
    code = "import sys\nfor n in range(41): sys.stderr.write(chr(65 + n % 26) * 65536); sys.stderr.flush()\nprint('ok')"
    done = await python_runner(max_stderr_bytes=200_000).run([code])
    written = b"".join(bytes([65 + n % 26]) * 65536 for n in range(41))
    assert done.returncode == 0 and done.stdout == b"ok\n"
    assert done.stderr and written.startswith(done.stderr), "only a prefix of what was written"


STRAY_WITH_CHILD = textwrap.dedent(
    """
    import os, subprocess, sys, time
    pid = os.fork()
    if pid == 0:
        os.setsid()  # leaves the CLI's group: a stray with a group of its own
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(sys.argv[1], "w").write(str(child.pid))
        time.sleep(60)
        os._exit(0)
    print("done")
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="strays are found through /proc")
async def test_the_children_of_an_ended_stray_are_reaped_too(tmp_path):
    """Ending a stray kills its tree; its child, re-parented to us, must not stay a zombie."""
    marker = tmp_path / "child"
    runner = python_runner()
    assert (await runner.run([STRAY_WITH_CHILD, str(marker)])).returncode == 0
    child = await wait_for_pid(marker)
    with anyio.fail_after(5):
        while os.path.exists(f"/proc/{child}"):
            await runner.run(["pass"])
            await anyio.sleep(0.05)
