"""The `format`s an action's schema can ask for, checked here before anything is sent.

jsonschema checks `date-time` and `uri` only with optional packages this server
does not ship, and checks nothing without a format checker, so a schema that says
`"format": "email"` was advertised but never enforced. These checkers are plain
code (no regular expression that can backtrack): each runs in time linear in the
value, so a hostile value cannot stall the check.
"""

from __future__ import annotations

import string
from datetime import date, datetime
from typing import Any, Final

from jsonschema import FormatChecker

EXPECTED: Final = {
    "email": "an email address, e.g. jane@example.com",
    "date": "a date as YYYY-MM-DD, e.g. 2024-05-31",
    "date-time": "a date and time with its offset (RFC 3339), e.g. 2024-05-31T14:30:00Z",
    "uri": "an absolute URI, e.g. https://example.com/page",
}
"""What each checked format expects, as the error tells the model."""
MAX_EMAIL: Final = 254
URI_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
SCHEME_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "+-.")
DOMAIN_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "-")

FORMATS = FormatChecker(formats=())
"""Only the formats below; any other `format` is an annotation, as Draft 2020-12 says by default."""


@FORMATS.checks("email")
def is_email(value: Any) -> bool:
    """`local@domain.tld`: one `@`, no spaces, a domain of dot-separated labels (a non-ASCII label is allowed)."""
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    if not at or not local or len(value) > MAX_EMAIL or "@" in local:
        return False
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_is_label(label) for label in labels)


def _is_label(label: str) -> bool:
    if not label or len(label) > 63 or label.startswith("-") or label.endswith("-"):
        return False
    return all(ch in DOMAIN_CHARACTERS or not ch.isascii() for ch in label)


@FORMATS.checks("date")
def is_date(value: Any) -> bool:
    """RFC 3339 full-date, exactly YYYY-MM-DD (Python alone would also take `20240531`)."""
    if not isinstance(value, str):
        return True
    return _is_full_date(value)


def _is_full_date(text: str) -> bool:
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not (text[:4] + text[5:7] + text[8:]).isdigit():
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return text.isascii()


@FORMATS.checks("date-time")
def is_date_time(value: Any) -> bool:
    """RFC 3339 date-time: `2024-05-31T14:30:00Z`, seconds and an offset required, fractions allowed."""
    if not isinstance(value, str):
        return True
    if len(value) < 20 or len(value) > 40 or not value.isascii() or value[10] not in "Tt ":
        return False
    if not _is_full_date(value[:10]):
        return False
    rest = value[11:]
    if rest[-1] in "Zz":
        clock, offset = rest[:-1], "+00:00"
    else:
        clock, offset = rest[:-6], rest[-6:]
        if offset[0] not in "+-" or offset[3] != ":" or not (offset[1:3] + offset[4:]).isdigit():
            return False
    whole, _, fraction = clock.partition(".")
    if len(whole) != 8 or whole[2] != ":" or whole[5] != ":" or not whole.replace(":", "").isdigit():
        return False
    if "." in clock and not fraction.isdigit():
        return False
    hours, minutes, seconds = int(whole[:2]), int(whole[3:5]), int(whole[6:8])
    if hours > 23 or minutes > 59 or seconds > 60 or int(offset[1:3]) > 23 or int(offset[4:]) > 59:
        return False
    try:
        datetime.fromisoformat(f"{value[:10]}T{whole.replace(':60', ':59')}{offset}")
    except ValueError:
        return False
    return True


@FORMATS.checks("uri")
def is_uri(value: Any) -> bool:
    """An absolute URI (RFC 3986): a scheme, `:`, then only URI characters, with valid %-escapes."""
    if not isinstance(value, str):
        return True
    scheme, colon, rest = value.partition(":")
    if not colon or not scheme or not scheme[0].isascii() or not scheme[0].isalpha():
        return False
    if any(ch not in SCHEME_CHARACTERS for ch in scheme) or not rest:
        return False
    if any(ch not in URI_CHARACTERS for ch in rest):
        return False
    escapes = rest.split("%")[1:]
    return all(len(part) >= 2 and all(ch in string.hexdigits for ch in part[:2]) for part in escapes)


def expected(format_name: Any) -> str:
    """What a value of `format_name` looks like, for the error; a format not checked here is named as is."""
    return EXPECTED.get(str(format_name), f"a valid {str(format_name)[:40]}")
