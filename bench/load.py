"""Load: one stdio session of `mautic-mcp --sandbox`, many calls in flight, mixed success and failure.

Every call has a known right answer (a page of contacts by offset, one contact by id, an argument error,
a Mautic 404, the same through proxy_request), so each answer is checked, not just counted. Alongside:
the most CLI processes alive at once (from the sandbox's log of start and end times, and by sampling
the server's children in /proc), and the server's open file descriptors and RSS before and after.

    python bench/load.py [--calls 1000] [--in-flight 32] [--max-concurrency 4] [--slow 0.05]

`tests/hardening/test_load.py` runs the same scenario and asserts on it (never on timings).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult
from programs import program

CONTACTS = 220
"""The sandbox's seed holds contacts 1..220."""


@dataclass(frozen=True)
class Call:
    kind: str
    name: str
    arguments: dict[str, Any]
    check: Callable[[CallToolResult], None]
    starts_cli: bool


@dataclass
class Report:
    calls: int
    in_flight: int
    max_concurrency: int
    wall: float
    latencies: list[float]
    wrong: list[str]
    kinds: dict[str, int]
    cli_runs: int
    expected_cli_runs: int
    peak_from_log: int
    peak_sampled: int
    fds_before: int
    fds_after: int
    rss_before: int
    rss_after: int
    server_pid: int
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] * 1000
        rows = [
            ("calls", f"{self.calls:,} ({', '.join(f'{k} {v}' for k, v in sorted(self.kinds.items()))})"),
            ("in flight", str(self.in_flight)),
            ("wall time", f"{self.wall:.2f} s"),
            ("calls/s", f"{self.calls / self.wall:.1f}"),
            ("latency p50 / p95", f"{p50:.0f} ms / {p95:.0f} ms"),
            ("wrong answers", str(len(self.wrong))),
            ("CLI processes run", f"{self.cli_runs} (expected {self.expected_cli_runs})"),
            (
                "peak CLI processes",
                f"{self.peak_from_log} from the log, {self.peak_sampled} sampled (cap {self.max_concurrency})",
            ),
            ("server fds before / after", f"{self.fds_before} / {self.fds_after}"),
            ("server RSS before / after", f"{self.rss_before / 1e6:.1f} MB / {self.rss_after / 1e6:.1f} MB"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


# --- the calls and their right answers ------------------------------------------------------------------------


def _payload(result: CallToolResult) -> Any:
    text = "".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        raise AssertionError(f"unexpected error: {text[:300]}")
    return json.loads(text)


def _error(result: CallToolResult, *phrases: str) -> None:
    text = "".join(getattr(block, "text", "") for block in result.content)
    if not result.is_error:
        raise AssertionError(f"expected an error, got {text[:200]}")
    for phrase in phrases:
        if phrase not in text:
            raise AssertionError(f"expected {phrase!r} in {text[:300]}")


def plan(count: int, seed: int) -> list[Call]:
    """A deterministic mix of calls, each with the check its answer must pass."""
    rng = random.Random(seed)
    calls = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.25:
            start, limit = rng.randrange(0, CONTACTS - 5), rng.randrange(1, 6)
            expected = list(range(start + 1, start + limit + 1))

            def page(result: CallToolResult, expected: list[int] = expected) -> None:
                ids = [record["id"] for record in _payload(result)["records"]]
                if ids != expected:
                    raise AssertionError(f"page {ids} != {expected}")

            arguments = {"limit": limit, "start": start, "orderBy": "id", "orderByDir": "asc"}
            calls.append(Call("list", "list_contacts", arguments, page, True))
        elif roll < 0.45:
            ident = rng.randrange(1, CONTACTS + 1)

            def one(result: CallToolResult, ident: int = ident) -> None:
                if _payload(result)["id"] != ident:
                    raise AssertionError(f"asked for contact {ident}")

            calls.append(Call("get", "get_contact", {"id": ident}, one, True))
        elif roll < 0.60:
            bad = rng.choice([{"id": "seven"}, {"id": 0}, {}, {"id": 1, "colour": "red"}])

            def invalid(result: CallToolResult) -> None:
                _error(result, "Invalid arguments for get_contact", "Nothing was sent to Mautic")

            calls.append(Call("invalid", "get_contact", bad, invalid, False))
        elif roll < 0.70:
            missing = 900_000 + rng.randrange(1, 1000)

            def not_found(result: CallToolResult) -> None:
                _error(result, "get_contact failed", "not found")

            calls.append(Call("404", "get_contact", {"id": missing}, not_found, True))
        elif roll < 0.90:
            ident = rng.randrange(1, CONTACTS + 1)

            def proxied(result: CallToolResult, ident: int = ident) -> None:
                if _payload(result)["contact"]["id"] != ident:
                    raise AssertionError(f"asked for /api/contacts/{ident}")

            calls.append(Call("proxy", "proxy_request", {"path": f"/api/contacts/{ident}"}, proxied, True))
        else:
            missing = 900_000 + rng.randrange(1, 1000)

            def proxy_404(result: CallToolResult) -> None:
                _error(result, "404", "Item was not found")

            calls.append(Call("proxy 404", "proxy_request", {"path": f"/api/contacts/{missing}"}, proxy_404, True))
    return calls


# --- the server's process ---------------------------------------------------------------------------------------


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.update(int(child) for child in fh.read().split())
    except OSError:
        pass
    return found


def find_server(log: Path) -> int:
    """The server is this process's child whose environment names this run's sandbox log."""
    for child in _children(os.getpid()):
        if _environ(child).get("MEMBRANE_SANDBOX_LOG") == str(log):
            return child
    raise RuntimeError("the server process was not found among this process's children")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    """Counts the server's child processes every few milliseconds, in a thread, and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, len(_children(self.pid)))
            time.sleep(0.003)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def peak_overlap(entries: list[dict[str, Any]], since: float = 0.0) -> int:
    """The most CLI processes whose logged [start, end] intervals overlap."""
    edges = []
    for entry in entries:
        if "end" in entry and entry["start"] >= since:
            edges += [(entry["start"], 1), (entry["end"], -1)]
    peak = running = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        running += step
        peak = max(peak, running)
    return peak


# --- the run ------------------------------------------------------------------------------------------------------


def server_parameters(db: Path, log: Path, knobs: Path, max_concurrency: int, slow: float) -> StdioServerParameters:
    command, *args = program("mautic-mcp", "mautic_mcp.server")
    env = {
        **{name: os.environ[name] for name in ("PATH", "PYTHONPATH") if name in os.environ},
        "MEMBRANE_SANDBOX_DB": str(db),
        "MEMBRANE_SANDBOX_LOG": str(log),
        "MEMBRANE_SANDBOX_KNOBS": str(knobs),
        "MAUTIC_MCP_MAX_CONCURRENCY": str(max_concurrency),
        "MAUTIC_MCP_LOG_LEVEL": "WARNING",
        "MAUTIC_MCP_CACHE_DIR": str(db.parent / "cache"),  # the run's own, out of the user's
    }
    if slow:
        env |= {"MEMBRANE_SANDBOX_FAULT": f"slow:{slow}", "MEMBRANE_SANDBOX_FAULT_ON": "action run,request"}
    return StdioServerParameters(command=command, args=[*args, "--sandbox"], env=env)


async def _drive(client: Client, calls: list[Call], in_flight: int) -> tuple[list[float], list[str]]:
    limiter = anyio.CapacityLimiter(in_flight)
    latencies: list[float] = []
    wrong: list[str] = []

    async def one(index: int, call: Call) -> None:
        async with limiter:
            started = time.perf_counter()
            try:
                result = await client.call_tool(call.name, call.arguments)
                call.check(result)
            except Exception as error:
                wrong.append(f"#{index} {call.kind} {call.name} {call.arguments}: {error}")
            finally:
                latencies.append(time.perf_counter() - started)

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            group.start_soon(one, index, call)
    return latencies, wrong


def _log(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def run(
    db: Path,
    workdir: Path,
    *,
    calls: int = 1000,
    in_flight: int = 32,
    max_concurrency: int = 4,
    slow: float = 0.05,
    warm_up: int = 50,
    seed: int = 7,
) -> Report:
    """Run the scenario against a server on the sandbox database `db` (which it writes nothing to)."""
    log, knobs = workdir / "invocations.jsonl", workdir / "knobs.json"
    log.unlink(missing_ok=True)
    params = server_parameters(db, log, knobs, max_concurrency, slow)
    scenario = plan(calls, seed)
    async with Client(params) as client:
        await client.list_tools()
        pid = find_server(log)
        await _drive(client, plan(warm_up, seed + 1), in_flight)
        await anyio.sleep(0.3)
        fds_before, rss_before = fds(pid), rss(pid)
        logged_before = len(_log(log))
        begun = time.time()
        with Sampler(pid) as sampler:
            started = time.perf_counter()
            latencies, wrong = await _drive(client, scenario, in_flight)
            wall = time.perf_counter() - started
        await anyio.sleep(0.3)
        fds_after, rss_after = fds(pid), rss(pid)
        entries = _log(log)
    kinds: dict[str, int] = {}
    for call in scenario:
        kinds[call.kind] = kinds.get(call.kind, 0) + 1
    return Report(
        calls=calls,
        in_flight=in_flight,
        max_concurrency=max_concurrency,
        wall=wall,
        latencies=latencies,
        wrong=wrong,
        kinds=kinds,
        cli_runs=len(entries) - logged_before,
        expected_cli_runs=sum(call.starts_cli for call in scenario),
        peak_from_log=peak_overlap(entries),
        peak_sampled=sampler.peak,
        fds_before=fds_before,
        fds_after=fds_after,
        rss_before=rss_before,
        rss_after=rss_after,
        server_pid=pid,
        extra={"begun": begun, "peak_during_run_from_log": peak_overlap(entries, begun)},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--slow", type=float, default=0.05, help="seconds each CLI call sleeps (0: none)")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mautic-mcp-load-") as folder:
        workdir = Path(folder)
        db = workdir / "sandbox.db"
        subprocess.run(
            [sys.executable, "-m", "mautic_mcp.sandbox", "reset"],
            env={**os.environ, "MEMBRANE_SANDBOX_DB": str(db)},
            check=True,
            capture_output=True,
            timeout=120,
        )
        report = anyio.run(
            lambda: run(
                db,
                workdir,
                calls=options.calls,
                in_flight=options.in_flight,
                max_concurrency=options.max_concurrency,
                slow=options.slow,
                seed=options.seed,
            )
        )
    print(report.table())
    for line in report.wrong[:20]:
        print("wrong:", line)
    return 1 if report.wrong or report.peak_sampled > report.max_concurrency else 0


if __name__ == "__main__":
    sys.exit(main())
