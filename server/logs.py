"""Log lines nobody outside can forge: text from outside is kept on one line, its controls escaped.

Tool names, arguments, intents, connection ids and CLI messages all come from outside (the client,
Membrane, Mautic). Written to stderr as they are, a newline, a carriage return, a Unicode line or
paragraph separator (U+2028, U+2029), NEL (U+0085) or a terminal escape in them would start what
reads as a log record of its own. `one_line` escapes those; `OneLineFormatter` applies it to every
record's message, and indents tracebacks so no line of one can pass for a record.
"""

from __future__ import annotations

import logging
import re
from typing import Final

BREAKS: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 controls but the tab (\\n, \\r, \\v, \\f, \\x1b, \\x1c-\\x1e among them), DEL, C1 controls (NEL is
\\x85) and the Unicode line and paragraph separators: what splits a line or drives a terminal."""
TRACE_BREAKS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""The same, but for the newlines a traceback is made of."""
SHOWN_CHARS: Final = 120


NAMED: Final = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return NAMED.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def one_line(text: object) -> str:
    """`text` as one line: every character that could end a line or drive a terminal, escaped."""
    return BREAKS.sub(_escape, str(text))


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
    text = TRACE_BREAKS.sub(_escape, text.replace("\r\n", "\n"))
    return "\n".join("    " + line for line in text.split("\n"))
