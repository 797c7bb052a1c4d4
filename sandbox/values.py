"""Request values read as leniently as Mautic's PHP reads them, and the timestamps it writes."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def now() -> str:
    """The current time in Mautic's date format, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def to_int(value: Any, default: int) -> int:
    """An integer from a number or numeric text; `default` for anything else."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def truthy(value: Any) -> bool:
    """A query or form flag: `1`, `true`, `yes` and `on` (any case) are true."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")
