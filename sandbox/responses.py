"""What every endpoint of the emulated Mautic answers with: `(status, body)`, and Mautic's error body."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Response = tuple[int, Any]

MESSAGES = {
    400: "Bad Request",
    404: "Item was not found.",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Validation failed.",
}


def error(status: int, message: str | None = None, details: Any = None) -> Response:
    """Mautic's error body: `{"errors": [{"code", "message", "details", "type"}]}`."""
    return status, {
        "errors": [
            {
                "code": status,
                "message": message or MESSAGES.get(status, "Error"),
                "details": details if details is not None else [],
                "type": None,
            }
        ]
    }


def invalid(details: dict[str, list[str]]) -> Response:
    """A 422 whose message names every field that failed, as Mautic's form validation does."""
    message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in details.items())
    return error(422, message, details)
