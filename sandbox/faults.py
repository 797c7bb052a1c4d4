"""Carries out the fault knobs: the ways a real `membrane` process can misbehave."""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GARBAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
    "<p>upstream connect error or disconnect/reset before headers</p></body></html>\n"
    "membrane: unexpected response from api.sandbox.invalid\n"
)
NOISE = (
    "(node:{pid}) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. "
    "Please use a userland alternative instead.\n"
    "(Use `node --trace-deprecation ...` to show where the warning was created)\n"
    "npm WARN exec The following package was not found and will be installed: @membranehq/cli\n"
    '{"level":"warn","msg":"access token refresh scheduled","inSeconds":1800}\n'
    '{"type": "notice", partial json from a progress spinner\n'
    "Warning: a newer version of @membranehq/cli is available (1.4.2 -> 1.5.0)\n"
)
RATE_LIMITED = {
    "type": "bad_request",
    "key": "rate_limit_exceeded",
    "message": "Rate limit exceeded. Retry after 30 seconds.",
    "data": {"retryAfter": 30},
}


def log_line(record: dict[str, Any]) -> None:
    """Appends one JSON line to MEMBRANE_SANDBOX_LOG with a single O_APPEND write, safe across processes."""
    path = os.environ.get("MEMBRANE_SANDBOX_LOG")
    if not path:
        return
    import json

    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def process_ids() -> dict[str, Any]:
    return {"pid": os.getpid(), "pgid": os.getpgid(0) if hasattr(os, "getpgid") else None}


def hang(argv: list[str], start: float) -> None:
    """Starts a grandchild that sleeps forever in this process group, logs it, then sleeps forever."""
    import subprocess

    child = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile True:\n    time.sleep(3600)"], stdin=subprocess.DEVNULL
    )
    log_line({**process_ids(), "argv": argv, "start": start, "event": "start", "grandchild": child.pid})
    sys.stdout.flush()
    while True:
        time.sleep(3600)


def crash(argv: list[str], start: float) -> None:
    """Dies as if killed by the OOM killer: SIGKILL, so no output and a negative return code."""
    log_line({**process_ids(), "argv": argv, "start": start, "end": time.time(), "exit": -9})
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":
        os._exit(137)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def garbage() -> None:
    sys.stdout.write(GARBAGE)


def noise() -> None:
    sys.stderr.write(NOISE.replace("{pid}", str(os.getpid())))
    sys.stderr.flush()


def _collection(obj: Any) -> tuple[Any, Any] | None:
    """The (container, key) of the record collection in a normal result, looked for in the usual places."""
    for container in (obj, obj.get("output") if isinstance(obj, dict) else None):
        if not isinstance(container, dict):
            continue
        for key in (
            "records",
            "items",
            "contacts",
            "companies",
            "lists",
            "campaigns",
            "emails",
            "forms",
            "stages",
            "notes",
            "assets",
            "fields",
        ):
            if key in container and isinstance(container[key], list | dict):
                return container, key
    return None


def inflate(obj: Any, size: int) -> Any:
    """Grows a normal result to about `size` bytes of valid JSON by repeating its records."""
    import json

    if isinstance(obj, dict) and "output" in obj and not isinstance(obj["output"], dict | list):
        obj["output"] = {"records": []}
    if isinstance(obj, dict) and isinstance(obj.get("output"), list):
        obj["output"] = {"records": obj["output"]}
    found = _collection(obj)
    if found is None:
        if not isinstance(obj, dict):
            obj = {"result": obj}
        obj["records"] = []
        found = obj, "records"
    container, key = found
    rows = container[key]
    values = list(rows.values()) if isinstance(rows, dict) else list(rows)
    sample = (
        values[0]
        if values and isinstance(values[0], dict)
        else {"id": 1, "name": "Filler record", "description": "Repeated to make a huge response."}
    )
    base = len(json.dumps(obj, separators=(",", ":"))) - len(json.dumps(rows, separators=(",", ":")))
    each = len(json.dumps(sample, separators=(",", ":"))) + 12
    count = max(1, (size - base) // each)
    made = [{**sample, "id": i} for i in range(1, count + 1)]
    container[key] = {str(r["id"]): r for r in made} if isinstance(rows, dict) else made
    if "total" in container:
        container["total"] = str(count) if isinstance(container["total"], str) else count
    container.pop("cursor", None)
    return obj
