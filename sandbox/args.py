"""Minimist-like argv parsing, hand-written because argparse costs start-up time in every invocation."""

VALUE_FLAGS = frozenset(
    {
        "connectionId",
        "connectionKey",
        "connectorId",
        "integrationKey",
        "intent",
        "limit",
        "cursor",
        "input",
        "elementType",
        "method",
        "header",
        "data",
        "query",
        "pathParam",
        "name",
    }
)
BOOL_FLAGS = frozenset({"json", "rawData", "tenant", "help", "version"})
REPEATABLE = frozenset({"header", "query", "pathParam"})
SHORT = {"X": "method", "H": "header", "d": "data", "h": "help", "v": "version"}


class UsageError(Exception):
    """Argv that no `membrane` command accepts; reported with the usage text and exit status 2."""


class Args:
    """Positionals, last-wins option values, and every value of repeatable options."""

    def __init__(self) -> None:
        self.positionals: list[str] = []
        self.options: dict[str, str | bool] = {}
        self.repeated: dict[str, list[str]] = {}

    def flag(self, name: str) -> bool:
        return self.options.get(name) is True

    def value(self, name: str) -> str | None:
        value = self.options.get(name)
        return value if isinstance(value, str) else None

    def values(self, name: str) -> list[str]:
        return self.repeated.get(name, [])


def _looks_like_option(arg: str) -> bool:
    return len(arg) > 1 and arg[0] == "-"


def parse(argv: list[str]) -> Args:
    """Accepts `--flag=value`, `--flag value`, `-X value`, `-Xvalue`, and options anywhere among positionals."""
    out = Args()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            out.positionals.extend(argv[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, inline = arg[2:].partition("=")
            has_inline = bool(eq)
        elif _looks_like_option(arg):
            short = arg[1]
            name = SHORT.get(short, "")
            if not name:
                raise UsageError(f"unknown option -{short}")
            inline = arg[2:]
            if inline.startswith("="):
                inline = inline[1:]
            has_inline = bool(arg[2:])
        else:
            out.positionals.append(arg)
            continue
        if name in BOOL_FLAGS:
            if has_inline and inline.lower() not in ("true", "false", "1", "0"):
                raise UsageError(f"option --{name} takes no value")
            out.options[name] = not has_inline or inline.lower() in ("true", "1")
            continue
        if name not in VALUE_FLAGS:
            raise UsageError(f"unknown option {arg.partition('=')[0]}")
        if has_inline:
            value = inline
        elif i < len(argv) and not _looks_like_option(argv[i]):
            value = argv[i]
            i += 1
        else:
            raise UsageError(f"option --{name} needs a value")
        out.options[name] = value
        if name in REPEATABLE:
            out.repeated.setdefault(name, []).append(value)
    return out
