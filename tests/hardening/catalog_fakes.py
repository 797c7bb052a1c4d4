"""A fake `membrane` that serves a catalog a test writes, for the hostile-catalog tests.

It lists the catalog for every intent, echoes each action run (or answers 15 MB for the
`huge` actions), and logs each process's pid and group so a test can check none is left.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mautic_mcp.server.config import build_settings
from mautic_mcp.server.server import MauticServer
from tests.hardening.helpers import clean_environ
from tests.support import cmdline, live_processes, read_jsonl

FAKE_CONNECTION = "conn-hostile"
FAKE_CLI = """\
import json, os, sys

HERE = {here!r}
with open(os.path.join(HERE, "invocations.jsonl"), "a") as log:
    log.write(json.dumps({{"pid": os.getpid(), "pgid": os.getpgid(0), "argv": sys.argv[1:3]}}) + "\\n")
args = sys.argv[1:]
flags = {{a.split("=", 1)[0]: a.partition("=")[2] for a in args if a.startswith("--")}}
words = [a for a in args if not a.startswith("--")]


def answer(value):
    sys.stdout.write(json.dumps(value))
    sys.exit(0)


if words[:2] == ["connection", "list"]:
    answer({{"items": [{{"id": {connection!r}, "name": "Mautic", "state": "READY",
                        "integration": {{"key": "mautic", "name": "Mautic"}}}}]}})
if words[:2] == ["action", "list"]:
    with open(os.path.join(HERE, "catalog.json")) as fh:
        sys.stdout.write(fh.read())
    sys.exit(0)
if words[:2] == ["action", "run"]:
    action = words[2]
    if action in ("huge", "huge-object"):
        size = int(os.environ.get("FAKE_HUGE_BYTES", "15000000"))
        fields = {{f"field{{i}}": None if i % 2 else f"value {{i}} " * (2 + i % 20) for i in range(40)}}
        count = size // len(json.dumps({{"id": 99999, **fields}}))
        records = [{{"id": n, **fields}} for n in range(count)]
        answer({{"output": {{"records" if action == "huge" else "rows": records, "total": count}}}})
    answer({{"output": {{"action": action, "input": json.loads(flags["--input"])}}}})
if words[:1] == ["request"]:
    answer({{"path": words[2], "method": flags.get("--method")}})
sys.stderr.write("fake membrane: unknown command " + " ".join(args[:2]))
sys.exit(2)
"""


def fake_membrane(folder: Path, catalog: list[dict[str, Any]]) -> Path:
    """A `membrane` that lists `catalog` for every intent, echoes each action run and logs pid and group.

    The action with id `huge` answers a list of about FAKE_HUGE_BYTES bytes (15 MB by default) of records
    with 40 fields; `huge-object` the same records as one object (not a list: fitted by cutting text).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.json").write_text(json.dumps({"items": catalog}))
    program = folder / "membrane"
    program.write_text(f"#!{sys.executable}\n" + FAKE_CLI.format(here=str(folder), connection=FAKE_CONNECTION))
    program.chmod(0o755)
    return program


def fake_invocations(folder: Path) -> list[dict[str, Any]]:
    return read_jsonl(folder / "invocations.jsonl")


def app_on_fake(program: Path, **flags: Any) -> MauticServer:
    """A server whose CLI is the fake `membrane` at `program`."""
    app = MauticServer(build_settings({"membrane_bin": str(program), **flags}, env={}))
    app.membrane.runner.env = clean_environ()
    app.reconnect_interval = 0
    return app


def worker_processes() -> list[int]:
    """This process's argument checkers (`python -m mautic_mcp.tools.checker`) still alive."""
    me = str(os.getpid())
    return [pid for pid, fields in live_processes().items() if fields[1] == me and "tools.checker" in cmdline(pid)]
