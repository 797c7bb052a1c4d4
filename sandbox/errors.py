"""The error object the simulated CLI prints: Membrane's one failure shape, for callers to parse."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CliError(Exception):
    """A failure reported as `{"type", "key", "message", "data"}`, like Membrane's API errors.

    Not named `MembraneError`: that is the real client's exception for such an object once it is parsed.
    """

    def __init__(self, type_: str, key: str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.type = type_
        self.key = key
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        """Omits `data` when there is none, as Membrane does."""
        out: dict[str, Any] = {"type": self.type, "key": self.key, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def bad_input(message: str, data: Any = None) -> CliError:
    """A malformed argument from the caller (bad JSON, out-of-range limit, bad cursor)."""
    return CliError("bad_request", "invalid_input", message, data)


def not_found(message: str) -> CliError:
    """An unknown connection, action or connector."""
    return CliError("bad_request", "not_found", message)
