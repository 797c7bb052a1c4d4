"""Settings: one typed object, built once at start-up from flags and environment."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_INTENTS: tuple[str, ...] = (
    "contacts",
    "companies",
    "segments",
    "campaigns",
    "emails",
    "forms",
    "stages",
    "notes",
    "assets",
)

SANDBOX_BIN = "membrane-sandbox"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


class ConfigError(ValueError):
    """Configuration that cannot be served; the message is one line for stderr."""


class Settings(BaseModel):
    """Everything the server needs to know, validated once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    membrane_bin: str = "membrane"
    connection_id: str | None = None
    intents: tuple[str, ...] = DEFAULT_INTENTS
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    timeout: Annotated[float, Field(gt=0, le=3600)] = 60.0
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    read_only: bool = False
    sandbox: bool = False
    max_result_chars: Annotated[int, Field(ge=2_000, le=1_000_000)] = 60_000
    page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    log_level: LogLevel | None = None
    """None: the command's own default (INFO when serving, WARNING for doctor, tools and demo)."""
    cache_dir: str | None = None
    """Where the discovery cache is kept; None: the user cache folder (platformdirs)."""
    no_cache: bool = False
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    """The address `--transport http` binds to; loopback by default."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8000

    @field_validator("intents")
    @classmethod
    def _intents_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(i.strip() for i in value if i.strip()))
        if not cleaned:
            raise ValueError("at least one intent is required")
        return cleaned

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("cache_dir")
    @classmethod
    def _usable_folder(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if "\x00" in value:
            raise ValueError("a folder path cannot hold a NUL character")
        path = Path(value.strip()).expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError("not a folder")
        return str(path)

    @field_validator("transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        host = value.strip()
        if not host or any(c.isspace() or c in "/?#@" or ord(c) < 32 for c in host):
            raise ValueError("not a host name or IP address")
        return host

    @field_validator("connection_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def cli_command(self) -> list[str]:
        """The argv prefix for the Membrane CLI, resolved the way the OS would run it."""
        return resolve_cli(SANDBOX_BIN if self.sandbox else self.membrane_bin)

    def cache_folder(self) -> Path | None:
        """The discovery cache's folder, or None when the cache is off."""
        if self.no_cache:
            return None
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        import platformdirs

        return Path(platformdirs.user_cache_dir("mautic-mcp", appauthor=False))


def resolve_cli(name: str) -> list[str]:
    """Find the CLI; GUI clients start servers with a short PATH, so look beside Python too.

    An unresolvable name is returned as is: the runner then reports it as not found.
    """
    if os.sep in name or (os.altsep and os.altsep in name):
        return [name]
    found = shutil.which(name)
    if found:
        return [found]
    beside_python = Path(sys.executable).parent
    for candidate in (name, f"{name}.exe", f"{name}.cmd"):
        path = beside_python / candidate
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path)]
    if name == SANDBOX_BIN:
        return [sys.executable, "-P", "-m", "mautic_mcp.sandbox"]
    return [name]


def split_intents(raw: str) -> list[str]:
    """MAUTIC_MCP_INTENTS holds one intent per line, or intents separated by ';'."""
    return [part.strip() for line in raw.splitlines() for part in line.split(";") if part.strip()]


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use 1 or 0")


ENV_NAMES: dict[str, str] = {
    "membrane_bin": "MEMBRANE_BIN",
    "connection_id": "MAUTIC_MCP_CONNECTION_ID",
    "intents": "MAUTIC_MCP_INTENTS",
    "limit": "MAUTIC_MCP_LIMIT",
    "timeout": "MAUTIC_MCP_TIMEOUT",
    "max_concurrency": "MAUTIC_MCP_MAX_CONCURRENCY",
    "read_only": "MAUTIC_MCP_READ_ONLY",
    "sandbox": "MAUTIC_MCP_SANDBOX",
    "max_result_chars": "MAUTIC_MCP_MAX_RESULT_CHARS",
    "page_size": "MAUTIC_MCP_PAGE_SIZE",
    "log_level": "MAUTIC_MCP_LOG_LEVEL",
    "cache_dir": "MAUTIC_MCP_CACHE_DIR",
    "no_cache": "MAUTIC_MCP_NO_CACHE",
    "transport": "MAUTIC_MCP_TRANSPORT",
    "host": "MAUTIC_MCP_HOST",
    "port": "MAUTIC_MCP_PORT",
}
"""The environment variable of each setting; its flag is `flag_name(field)`."""


def flag_name(field: str) -> str:
    return "--intent" if field == "intents" else "--" + field.replace("_", "-")


def build_settings(flags: Mapping[str, object | None], env: Mapping[str, str] | None = None) -> Settings:
    """Merge flags over environment over defaults; raise ConfigError with one clear line."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for field, env_name in ENV_NAMES.items():
        raw = env.get(env_name)
        if field in ("read_only", "sandbox", "no_cache"):
            flag = _env_bool(env, env_name)
            if flag is not None:
                values[field] = flag
        elif raw and raw.strip():
            values[field] = tuple(split_intents(raw)) if field == "intents" else raw.strip()

    for field, value in flags.items():
        if value is None or value is False or value == []:
            continue
        values[field] = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else value

    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        where = f"{flag_name(field)} / {ENV_NAMES[field]}" if field in ENV_NAMES else field
        parts.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return "invalid configuration: " + "; ".join(parts)
