"""Start-up cost of the sandbox CLI: every `membrane` call is a new process, so this is what a tool call pays.

Runs each command N times through `python -m mautic_mcp.sandbox` and through the installed `membrane-sandbox`
script, and prints the median and p90 wall time and the ratio to a bare `python -c pass`. The sandbox package's
bytecode is compiled first, as an installed wheel would have it (PYTHONDONTWRITEBYTECODE would otherwise
make every run compile from source). Both need the project installed (`pip install -e .`).

    python bench/sandbox_startup.py [-n 30]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONNECTION_ID = "66a1f0c2b7e4d5a6c3b2a100"
ON = f"--connectionId={CONNECTION_ID}"
COMMANDS: list[tuple[str, list[str]]] = [
    ("status", ["status", "--json"]),
    ("connection list", ["connection", "list", "--json"]),
    ("action list --intent", ["action", "list", ON, "--intent=contacts", "--json"]),
    ("action run list-contacts", ["action", "run", "list-contacts", ON, "--input={}", "--json"]),
    ("action run get-contact", ["action", "run", "get-contact", ON, '--input={"id": 1}', "--json"]),
    ("request /api/contacts", ["request", CONNECTION_ID, "/api/contacts", "--query=limit=30"]),
]  # fmt: skip


def measure(cases: list[list[str]], env: dict[str, str], runs: int) -> list[tuple[float, float]]:
    """(median, p90) wall time in ms per case. Cases take turns, round by round, so that a load spike on
    the machine hits them all alike instead of skewing one; one warm-up round first."""
    times: list[list[float]] = [[] for _ in cases]
    for round_ in range(runs + 1):
        for i, argv in enumerate(cases):
            began = time.perf_counter()
            subprocess.run(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            if round_:
                times[i].append((time.perf_counter() - began) * 1000)
    out = []
    for samples in times:
        samples.sort()
        out.append((statistics.median(samples), samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30)
    runs = parser.parse_args().runs
    root = Path(__file__).resolve().parent.parent
    compileall.compile_dir(str(root / "sandbox"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBRANE_SANDBOX_")}
        env["MEMBRANE_SANDBOX_DB"] = str(Path(tmp) / "sandbox.db")
        subprocess.run(
            [sys.executable, "-m", "mautic_mcp.sandbox", "reset"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        labels = [("python -c pass", "")]
        cases = [[sys.executable, "-c", "pass"]]
        launchers = [("python -m mautic_mcp.sandbox", [sys.executable, "-m", "mautic_mcp.sandbox"])]
        script = shutil.which("membrane-sandbox")
        if script:
            launchers.append(("membrane-sandbox", [script]))
        else:
            print("membrane-sandbox is not on PATH; install the project to measure the console script.\n")
        for name, args in COMMANDS:
            for launcher, prefix in launchers:
                labels.append((name, launcher))
                cases.append([*prefix, *args])
        results = measure(cases, env, runs)
    base = results[0][0]
    print(f"{runs} runs each, {sys.executable} ({sys.version.split()[0]}), {os.cpu_count()} CPUs\n")
    print(f"{'command':<26} {'via':<28} {'median ms':>9} {'p90 ms':>8} {'ratio':>6}")
    for (name, launcher), (median, p90) in zip(labels, results, strict=True):
        print(f"{name:<26} {launcher:<28} {median:>9.1f} {p90:>8.1f} {median / base:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
