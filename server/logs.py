"""Log lines nobody outside can forge: text from outside is kept on one line, its controls escaped.

Tool names, arguments, intents, connection ids and CLI messages all come from outside (the client,
Membrane, Mautic). Written to stderr as they are, a newline, a carriage return, a Unicode line or
paragraph separator (U+2028, U+2029), NEL (U+0085) or a terminal escape in them would start what
reads as a log record of its own. `one_line` escapes those; `OneLineFormatter` applies it to every
record's message, and indents tracebacks so no line of one can pass for a record.
"""

from __future__ import annotations

import logging
from typing import Final

from mautic_mcp.membrane.output import loggable

SHOWN_CHARS: Final = 120


def one_line(text: object) -> str:
    """`text` as one line: every character that could end a line or drive a terminal, escaped
    (the Membrane layer's `loggable`, for any object)."""
    return loggable(str(text))


def shown(text: object, limit: int = SHOWN_CHARS) -> str:
    """`text` on one line and cut to `limit` characters, for a log line or a message that quotes outside text."""
    value = str(text)
    cut = value if len(value) <= limit else value[:limit] + f"… ({len(value):,} characters)"
    return one_line(cut)


class OneLineFormatter(logging.Formatter):
    """Each record on one line; exception and stack text indented, so none of its lines starts a record."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("    " + loggable(line) for line in text.replace("\r\n", "\n").split("\n"))
