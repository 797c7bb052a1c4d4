"""The discovery cache: the chosen connection and each intent's actions, kept between starts.

One JSON file per key (a hash of everything that changes what discovery finds, the Membrane
login included), in one folder. A file that cannot be read as this version's format is ignored
(the caller rebuilds it), never fatal; writes go to a temporary file in the same folder, fsynced,
then `os.replace`d, so two servers writing at once leave one whole file, never a mix. Each write
prunes what is no longer used, so the folder stays small. Knows nothing of MCP.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mautic_mcp.membrane.catalog import Action

log = logging.getLogger(__name__)

VERSION: Final = 1
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
"""A cache file larger than this is not read (nothing this server writes comes near it)."""
MAX_ENTRIES: Final = 16
"""The most entries kept (the most recently used): one per combination of settings in use."""
MAX_AGE_SECONDS: Final = 30 * 24 * 3600
"""An entry no start has used for this long is removed (reading an entry marks it used)."""
TEMP_AGE_SECONDS: Final = 3600
"""A temporary file this old was left by a writer that died before its rename."""
CREDENTIALS: Final = Path(".membrane") / "credentials.json"
"""Where the Membrane CLI keeps its login, under the home folder."""


@dataclass(frozen=True)
class Entry:
    """What one start found: the connection used and each intent's actions, in Membrane's order."""

    connection_id: str
    pages: Mapping[str, Sequence[Action]]


def account_marker(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Any]:
    """What tells one Membrane login from another without holding it: the credentials file's modification
    time and size (a login or logout rewrites it) and the `MEMBRANE_*` variables that override it or pick
    the sandbox's data. Only ever hashed into the key, never written."""
    env = os.environ if env is None else env
    try:
        found = os.stat((home or Path.home()) / CREDENTIALS)
        stamp: list[int] | None = [found.st_mtime_ns, found.st_size]
    except (OSError, RuntimeError):
        stamp = None
    return [stamp, sorted((name, value) for name, value in env.items() if name.startswith("MEMBRANE_"))]


def cache_key(
    command: Sequence[str],
    connection: str | None,
    intents: Sequence[str],
    limit: int,
    read_only: bool,
    account: Sequence[Any] = (),
) -> str:
    """A hash of what changes the discovery: the CLI (its resolved path and modification time), the
    connection setting, the intents, the limit, read-only mode and the Membrane login (`account_marker`)."""
    try:
        mtime: float | None = os.stat(command[0]).st_mtime_ns if command else None
    except OSError:
        mtime = None
    parts = {
        "version": VERSION,
        "command": list(command),
        "mtime": mtime,
        "connection": connection,
        "intents": list(intents),
        "limit": limit,
        "read_only": read_only,
        "account": list(account),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def action_to_json(action: Action) -> dict[str, Any]:
    return {
        "id": action.id,
        "key": action.key,
        "name": action.name,
        "description": action.description,
        "type": action.type,
        "inputSchema": action.input_schema,
        "outputSchema": action.output_schema,
    }


class Damaged(ValueError):
    """A cache file that is not this version's format."""


class DiscoveryCache:
    """The cache files in `folder`, one per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"discovery-{key}.json"

    def load(self, key: str) -> Entry | None:
        """The entry for `key`; None when there is none, or (with a WARNING) when it cannot be used."""
        path = self.path(key)
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("the discovery cache %s cannot be read (%s); discovering afresh", path, error)
            return None
        try:
            if len(raw) > MAX_FILE_BYTES:
                raise Damaged("too large")
            entry = decode(raw, key)
        except (ValueError, RecursionError) as error:  # Damaged is a ValueError
            log.warning("the discovery cache %s is damaged (%s); it is ignored and rebuilt", path, error)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: `prune` keeps it
        return entry

    def save(self, key: str, entry: Entry) -> bool:
        """Write the entry atomically; False (with a WARNING) when it cannot be written."""
        data = encode(key, entry)
        temp: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".discovery-", suffix=".tmp", dir=self.folder)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, self.path(key))
            temp = None
        except OSError as error:
            log.warning("the discovery cache cannot be written in %s (%s)", self.folder, error)
            return False
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
        self.prune(keep=key)
        return True

    def prune(self, keep: str, now: float | None = None) -> list[Path]:
        """Remove entries unused for `MAX_AGE_SECONDS` or past the newest `MAX_ENTRIES`, and temporary files
        a writer left when it died; `keep`'s entry stays. What was removed is returned."""
        now = time.time() if now is None else now
        entries: list[tuple[float, Path]] = []
        removed: list[Path] = []
        try:
            for path in self.folder.iterdir():
                try:
                    used = path.stat().st_mtime
                except OSError:
                    continue
                if path.name.startswith(".discovery-") and path.name.endswith(".tmp"):
                    if now - used > TEMP_AGE_SECONDS:
                        removed.append(path)
                elif path.name.startswith("discovery-") and path.name.endswith(".json") and path != self.path(keep):
                    entries.append((used, path))
        except OSError:
            return []
        entries.sort(reverse=True)
        for rank, (used, path) in enumerate(entries, start=1):
            if rank >= MAX_ENTRIES or now - used > MAX_AGE_SECONDS:
                removed.append(path)
        gone = []
        for path in removed:
            with contextlib.suppress(OSError):
                path.unlink()
                gone.append(path)
        if gone:
            log.info("removed %d unused file(s) from the discovery cache %s", len(gone), self.folder)
        return gone


def encode(key: str, entry: Entry) -> bytes:
    document = {
        "version": VERSION,
        "key": key,
        "connection_id": entry.connection_id,
        "pages": {intent: [action_to_json(a) for a in actions] for intent, actions in entry.pages.items()},
    }
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode(raw: bytes, key: str) -> Entry:
    """The entry in `raw`, read as strictly as the CLI's own output; Damaged when it is not one."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Damaged(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise Damaged("not an object")
    if document.get("version") != VERSION:
        raise Damaged(f"version {document.get('version')!r}, not {VERSION}")
    if document.get("key") != key:
        raise Damaged("written for other settings")
    connection_id = document.get("connection_id")
    pages = document.get("pages")
    if not isinstance(connection_id, str) or not connection_id or not isinstance(pages, dict):
        raise Damaged("no connection id or no pages")
    read: dict[str, list[Action]] = {}
    for intent, entries in pages.items():
        if not isinstance(entries, list):
            raise Damaged(f"intent {intent!r} holds no list")
        actions = []
        for item in entries:
            action = Action.from_entry(item) if isinstance(item, dict) else None
            if action is None:
                raise Damaged(f"an action of intent {intent!r} is unusable")
            actions.append(action)
        read[intent] = actions
    return Entry(connection_id=connection_id, pages=read)
