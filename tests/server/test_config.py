"""Settings from flags and environment; bad values stop start-up with one clear line."""

import subprocess
import sys

import pytest

from mautic_mcp.server.config import DEFAULT_INTENTS, ConfigError, build_settings, split_intents


def test_defaults():
    settings = build_settings({}, env={})
    assert settings.intents == DEFAULT_INTENTS
    assert (settings.limit, settings.timeout, settings.max_concurrency) == (20, 60.0, 8)
    assert not settings.read_only and not settings.sandbox and settings.connection_id is None


def test_environment_then_flags():
    env = {
        "MAUTIC_MCP_INTENTS": "find contacts\nsend emails; list segments",
        "MAUTIC_MCP_LIMIT": "5",
        "MAUTIC_MCP_READ_ONLY": "1",
        "MAUTIC_MCP_TIMEOUT": "2.5",
        "MEMBRANE_BIN": "/opt/membrane",
    }
    settings = build_settings({"limit": "7"}, env=env)
    assert settings.intents == ("find contacts", "send emails", "list segments")
    assert settings.limit == 7 and settings.read_only and settings.timeout == 2.5
    assert settings.membrane_bin == "/opt/membrane"
    assert build_settings({"intents": ["a", "b"]}, env=env).intents == ("a", "b")


def test_split_intents():
    assert split_intents(" a ;b\n\nc; ") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ({"timeout": "soon"}, {}, "--timeout"),
        ({}, {"MAUTIC_MCP_LIMIT": "0"}, "--limit"),
        ({"limit": "101"}, {}, "--limit"),
        ({"max_concurrency": "-1"}, {}, "--max-concurrency"),
        ({}, {"MAUTIC_MCP_READ_ONLY": "maybe"}, "MAUTIC_MCP_READ_ONLY"),
        ({}, {"MAUTIC_MCP_INTENTS": " ; "}, "--intent"),
    ],
)
def test_bad_values_are_named(flags, env, needle):
    with pytest.raises(ConfigError) as raised:
        build_settings(flags, env=env)
    assert needle in str(raised.value)
    assert "\n" not in str(raised.value)


def test_bad_configuration_exits_2_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "mautic_mcp.server", "--timeout", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--timeout" in lines[0]
