"""The speed and memory targets of "Start in under a second and add nothing per call", in one table.

Every row runs `mautic-mcp` over stdio against a stand-in `membrane`: a tiny /bin/sh script this bench
writes to a temporary folder (instant unless a row says it sleeps), which logs each start to a file.
Each row prints the figure, the goal and the ratio side by side, measured in this run.

    python bench/run.py [--quick]

P1  added ms per call: median over alternating pairs of (a call through the server, with the Python
    client) minus (the same CLI command run directly by this process, `anyio.run_process`)   goal <= 2 ms
P2  cold start to the first complete tools/list, stand-in taking 0.3 s per call, over
    (connection list + action list critical path = 0.6 s) + `import mcp.server` time   goal <= 1.3
P3  warm start (second start, same cache folder): CLI processes started before tools/list is answered   goal 0
P3w the same warm start's time to its first tools/list answer, over `import mcp.server` time   goal <= 1.3
P4  a 2,000-action catalog: a full tools/list (all pages) and the server's RSS   goal <= 150 MB
P5  32 calls of 0.2 s at --max-concurrency 8 (median of 3 bursts), over 4 x one call   goal <= 1.1
P6  the server's extra peak RSS (VmHWM) for one call whose CLI prints 50 MB      goal <= 20 MB
P7  one `membrane-sandbox status --json` over bare `python -c pass` (see bench/sandbox_startup.py for all commands)

`tests/hardening/test_bench_run.py` runs `--quick` once and checks every row is printed (never the timings).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from programs import program

CONNECTION = "conn-bench"
PROTOCOL = "2025-06-18"

STAND_IN = r"""#!/bin/sh
# A stand-in `membrane` for bench/run.py: {what}
DIR={folder}
{log}
intent=
for arg in "$@"; do
  case "$arg" in --intent=*) intent="${{arg#--intent=}}";; esac
done
case "$1 $2" in
  "--version "*) echo "1.0.0"; exit 0;;
  "connection list") {delay}printf '%s' '{{"items":[{{"id":"{connection}","name":"Mautic","state":"READY","integration":{{"key":"mautic","name":"Mautic"}}}}]}}'; exit 0;;
  "action list") {delay}cat "$DIR/catalog-$intent.json"; exit 0;;
  "action run") {run}; exit 0;;
  "status "*) printf '%s' '{{"status":"ok"}}'; exit 0;;
esac
printf '%s' '{{}}'
exit 0
"""  # noqa: E501


@dataclass
class Row:
    name: str
    figure: str
    goal: str
    ratio: str
    passed: bool
    stand_in: str
    how: str


def entry(n: int) -> dict[str, Any]:
    return {
        "id": f"act-{n}",
        "key": f"get-thing-{n}",
        "name": f"Get thing {n}",
        "description": f"Gets thing number {n} from Mautic.",
        "type": "connector-operation",
        "inputSchema": {"type": "object", "properties": {"id": {"type": "integer", "description": "The id."}}},
    }


def stand_in(
    folder: Path, *, what: str, delay: float = 0.0, run: str = "", intents: int = 1, per: int = 1, log: bool = False
) -> Path:
    """A /bin/sh `membrane`; with `log`, each start is stamped in starts.log (one `date` process more per call)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(intents):
        items = [entry(i * per + k) for k in range(per)]
        (folder / f"catalog-i{i}.json").write_text(json.dumps({"items": items}))
    script = STAND_IN.format(
        what=what,
        folder=str(folder),
        log='echo "$(date +%s.%N) $1 $2" >> "$DIR/starts.log"' if log else "",
        connection=CONNECTION,
        delay=f"sleep {delay}; " if delay else "",
        run=run or """printf '%s' '{"output":{"id":1,"name":"thing"}}'""",
    )
    program = folder / "membrane"
    program.write_text(script)
    program.chmod(0o755)
    return program


def starts(folder: Path) -> list[tuple[float, str]]:
    log = folder / "starts.log"
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        stamp, _, rest = line.partition(" ")
        out.append((float(stamp), rest))
    return out


def server_command() -> list[str]:
    return program("mautic-mcp", "mautic_mcp.server")


@functools.cache
def has_cache_flags() -> bool:
    done = subprocess.run([*server_command(), "--help"], capture_output=True, text=True, check=False)
    return "--cache-dir" in done.stdout


def server_argv(program: Path, *extra: str, intents: int = 1, cache: Path | None = None) -> list[str]:
    argv = [*server_command(), f"--membrane-bin={program}", "--log-level=WARNING", *extra]
    argv += [f"--intent=i{i}" for i in range(intents)]
    if has_cache_flags():  # each row keeps its own cache, out of the user's
        argv.append(f"--cache-dir={cache or program.parent / 'cache'}")
    return argv


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


class Wire:
    """Raw JSON-RPC lines to a server over stdio, one request at a time or many."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.buffer = b""
        self.next_id = 0
        self.answers: dict[int, Any] = {}
        self.reading = anyio.Lock()

    async def _read_until(self, ident: int) -> Any:
        assert self.process.stdout is not None
        while ident not in self.answers:
            async with self.reading:  # one reader at a time; the others find their answer kept
                if ident in self.answers:
                    break
                while b"\n" not in self.buffer:
                    self.buffer += await self.process.stdout.receive()
                line, _, self.buffer = self.buffer.partition(b"\n")
                message = json.loads(line)
                if "id" in message and ("result" in message or "error" in message):
                    self.answers[message["id"]] = message
        return self.answers.pop(ident)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.next_id += 1
        ident = self.next_id
        await self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params or {}})
        return await self._read_until(ident)

    async def initialize(self) -> None:
        info = {"name": "bench", "version": "1"}
        await self.request("initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": info})
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def all_tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor = None
        while True:
            answer = await self.request("tools/list", {"cursor": cursor} if cursor else {})
            tools += answer["result"]["tools"]
            cursor = answer["result"].get("nextCursor")
            if not cursor:
                return tools


async def open_server(argv: list[str]) -> tuple[Process, Wire]:
    process = await anyio.open_process(argv, stderr=subprocess.DEVNULL, start_new_session=True)
    return process, Wire(process)


async def close(process: Process) -> None:
    with anyio.CancelScope(shield=True):
        if process.stdin is not None:
            await process.stdin.aclose()
        with anyio.move_on_after(3):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_for_actions(wire: Wire, count: int, cap: float = 30.0) -> list[dict[str, Any]]:
    with anyio.fail_after(cap):
        while True:
            tools = await wire.all_tools()
            if sum(t["name"] != "proxy_request" for t in tools) >= count:
                return tools
            await anyio.sleep(0.02)


def action_tool(tools: list[dict[str, Any]]) -> str:
    return str(next(t["name"] for t in tools if t["name"] != "proxy_request"))


def import_mcp_server_seconds(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mcp.server"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- the rows ---


async def p1(base: Path, pairs: int) -> Row:
    from mcp import Client, StdioServerParameters

    folder = base / "p1"
    program = stand_in(folder, what="instant")
    argv = server_argv(program)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ))
    direct = [str(program), "action", "run", "act-0", f"--connectionId={CONNECTION}", '--input={"id":1}', "--json"]
    added: list[float] = []
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        while not any(t.name != "proxy_request" for t in tools):
            await anyio.sleep(0.05)
            tools = (await client.list_tools()).tools
        name = next(t.name for t in tools if t.name != "proxy_request")
        for _ in range(5):  # warm-up
            await client.call_tool(name, {"id": 1})
        for i in range(pairs):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            spent = [0.0, 0.0]
            for which in order:
                started = time.perf_counter()
                if which == 0:
                    result = await client.call_tool(name, {"id": 1})
                    assert not result.is_error, result
                else:
                    await anyio.run_process(direct, check=True)
                spent[which] = time.perf_counter() - started
            added.append((spent[0] - spent[1]) * 1000)
    median = statistics.median(added)
    return Row(
        "P1 added ms per call",
        f"{median:.2f} ms",
        "<= 2 ms",
        f"{median / 2:.2f}",
        median <= 2,
        "instant /bin/sh",
        f"median of {pairs} alternating pairs, Python client over stdio vs anyio.run_process of the same command",
    )


async def start_pair(folder: Path, program: Path, cache: Path) -> tuple[float, float, int, int]:
    """One cold start (empty cache) to a tools/list with actions, then a warm start (same cache) to its
    first tools/list answer: (cold s, warm s, action tools in that answer, CLI starts before it)."""
    argv = server_argv(program, cache=cache)
    started = time.perf_counter()
    process, wire = await open_server(argv)
    try:
        await wire.initialize()
        await wait_for_actions(wire, 1)
        cold = time.perf_counter() - started
    finally:
        await close(process)
    (folder / "starts.log").unlink(missing_ok=True)
    started = time.perf_counter()
    process, wire = await open_server(argv)
    try:
        await wire.initialize()
        answer = await wire.request("tools/list")
        answered = time.time()
        warm = time.perf_counter() - started
    finally:
        await close(process)
    listed = sum(t["name"] != "proxy_request" for t in answer["result"]["tools"])
    return cold, warm, listed, sum(stamp <= answered for stamp, _ in starts(folder))


async def p2_p3(base: Path, rounds: int) -> tuple[Row, Row, Row]:
    """Rounds of (import mcp.server, cold start, warm start), so that each ratio compares runs made
    moments apart; the row reports the median ratio."""
    folder = base / "p2"
    delay = 0.3
    program = stand_in(folder, what="0.3 s per list call", delay=delay, log=True)
    colds, warms, imports, cold_ratios, warm_ratios = [], [], [], [], []
    listed, before = 1 << 30, 0
    for round_ in range(rounds):
        mcp_import = import_mcp_server_seconds(1)
        cold, warm, shown, started = await start_pair(folder, program, folder / f"cache-{round_}")
        colds.append(cold)
        warms.append(warm)
        imports.append(mcp_import)
        cold_ratios.append(cold / (2 * delay + mcp_import))
        warm_ratios.append(warm / mcp_import)
        listed, before = min(listed, shown), max(before, started)
    cold, warm, mcp_import = (statistics.median(v) for v in (colds, warms, imports))
    ratio = statistics.median(cold_ratios)
    p2 = Row(
        "P2 cold start to tools/list",
        f"{cold * 1000:.0f} ms (import mcp.server {mcp_import * 1000:.0f} ms)",
        "<= 1.3",
        f"{ratio:.2f}",
        ratio <= 1.3,
        "/bin/sh, sleeps 0.3 s per list",
        f"median over {rounds} rounds of start-to-tools/list-with-actions / (2 x 0.3 s + import mcp.server)",
    )
    cached = has_cache_flags()
    p3 = Row(
        "P3 CLI starts before warm tools/list",
        f"{before} ({listed} action tools listed)",
        "0",
        "-",
        before == 0 and listed > 0,
        "/bin/sh, sleeps 0.3 s per list",
        "second start, same --cache-dir" if cached else "no cache in this build: second start, nothing kept",
    )
    ratio = statistics.median(warm_ratios)
    p3w = Row(
        "P3w warm start to tools/list",
        f"{warm * 1000:.0f} ms (import mcp.server {mcp_import * 1000:.0f} ms)",
        "<= 1.3",
        f"{ratio:.2f}",
        ratio <= 1.3 and listed > 0,
        "/bin/sh, sleeps 0.3 s per list",
        f"median over {rounds} rounds of start-to-first-tools/list (warm cache) / import mcp.server",
    )
    return p2, p3, p3w


async def p4(base: Path) -> Row:
    folder = base / "p4"
    program = stand_in(folder, what="2,000-action catalog", intents=20, per=100)
    process, wire = await open_server(server_argv(program, "--limit=100", intents=20))
    try:
        await wire.initialize()
        await wait_for_actions(wire, 2000, cap=120)
        started = time.perf_counter()
        tools = await wire.all_tools()
        listing = time.perf_counter() - started
        rss = proc_kib(process.pid, "VmRSS") / 1024
    finally:
        await close(process)
    return Row(
        "P4 2,000-action catalog",
        f"{rss:.0f} MB RSS, list {listing * 1000:.0f} ms ({len(tools)} tools)",
        "<= 150 MB",
        f"{rss / 150:.2f}",
        rss <= 150,
        "instant /bin/sh, 20 intents x 100",
        "full tools/list (every page) once discovered; VmRSS after it",
    )


async def p5(base: Path) -> Row:
    folder = base / "p5"
    program = stand_in(folder, what="0.2 s per run", run="""sleep 0.2; printf '%s' '{"output":{"id":1}}'""")
    process, wire = await open_server(server_argv(program, "--max-concurrency=8"))
    try:
        await wire.initialize()
        name = action_tool(await wait_for_actions(wire, 1))
        call = {"name": name, "arguments": {"id": 1}}
        singles = []
        for _ in range(3):
            started = time.perf_counter()
            await wire.request("tools/call", call)
            singles.append(time.perf_counter() - started)
        single = statistics.median(singles)
        walls = []
        for _ in range(3):
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(32):
                    group.start_soon(wire.request, "tools/call", call)
            walls.append(time.perf_counter() - started)
        wall = statistics.median(walls)
    finally:
        await close(process)
    ratio = wall / (4 * single)
    return Row(
        "P5 32 calls at concurrency 8",
        f"{wall * 1000:.0f} ms (one call {single * 1000:.0f} ms)",
        "<= 1.1",
        f"{ratio:.2f}",
        ratio <= 1.1,
        "/bin/sh, sleeps 0.2 s per run",
        "32 at once over one stdio session, --max-concurrency 8, median of 3 bursts; ratio to 4 x one call",
    )


async def p6(base: Path) -> Row:
    folder = base / "p6"
    program = stand_in(folder, what="prints 50 MB", run="head -c 52428800 /dev/zero | tr '\\0' 'a'")
    process, wire = await open_server(server_argv(program))
    try:
        await wire.initialize()
        name = action_tool(await wait_for_actions(wire, 1))
        await wire.request("tools/call", {"name": "proxy_request", "arguments": {"method": "GET", "path": "/x"}})
        await anyio.sleep(0.2)
        before = proc_kib(process.pid, "VmHWM")
        answer = await wire.request("tools/call", {"name": name, "arguments": {"id": 1}})
        after = proc_kib(process.pid, "VmHWM")
        assert answer["result"]["isError"], "the 50 MB answer should be refused as too large"
    finally:
        await close(process)
    extra = (after - before) / 1024
    return Row(
        "P6 extra peak RSS, 50 MB output",
        f"{extra:.1f} MB",
        "<= 20 MB",
        f"{extra / 20:.2f}",
        extra <= 20,
        "/bin/sh: head -c 50M, tr to text",
        "VmHWM after one call minus before (over stdio); the answer is refused at the 16 MB cap",
    )


def p7(runs: int) -> Row:
    command = program("membrane-sandbox", "mautic_mcp.sandbox")
    with tempfile.TemporaryDirectory(prefix="mautic-mcp-bench-sandbox-") as home:
        env = {**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_STATE_HOME": home, "XDG_CONFIG_HOME": home}
        cases = [[sys.executable, "-c", "pass"], [*command, "status", "--json"]]
        times: list[list[float]] = [[], []]
        for round_ in range(runs + 1):
            for i, case in enumerate(cases):
                started = time.perf_counter()
                subprocess.run(case, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                if round_:
                    times[i].append(time.perf_counter() - started)
    bare, sandbox_time = (statistics.median(t) for t in times)
    ratio = sandbox_time / bare
    return Row(
        "P7 one sandbox invocation",
        f"{sandbox_time * 1000:.0f} ms (python -c pass {bare * 1000:.0f} ms)",
        "-",
        f"{ratio:.2f}",
        True,
        "membrane-sandbox status --json",
        f"median of {runs} alternating runs vs bare python -c pass",
    )


def table(rows: list[Row]) -> str:
    head = ("row", "figure", "goal", "ratio", "ok", "stand-in CLI", "how")
    cells = [head] + [(r.name, r.figure, r.goal, r.ratio, "yes" if r.passed else "NO", r.stand_in, r.how) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


async def run_all(quick: bool, only: set[str]) -> list[Row]:
    def wanted(*names: str) -> bool:
        return not only or any(name in only for name in names)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mautic-mcp-bench-") as folder:
        base = Path(folder)
        if wanted("P1"):
            rows.append(await p1(base, 40 if quick else 200))
        if wanted("P2", "P3"):
            rows += await p2_p3(base, 1 if quick else 5)
        if wanted("P4"):
            rows.append(await p4(base))
        if wanted("P5"):
            rows.append(await p5(base))
        if wanted("P6"):
            rows.append(await p6(base))
        if wanted("P7"):
            rows.append(p7(5 if quick else 20))
    return rows


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer repetitions")
    options.add_argument("--only", action="append", default=[], metavar="ROW", help="run this row only (P1..P7)")
    args = options.parse_args()
    rows = anyio.run(run_all, args.quick, {row.upper() for row in args.only})
    print(f"mautic-mcp benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
