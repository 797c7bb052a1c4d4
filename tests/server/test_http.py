"""The HTTP transport's settings and gates, without a server (tests/e2e/test_http.py runs one)."""

from __future__ import annotations

import pytest

from mautic_mcp.server.config import ConfigError, Settings, build_settings
from mautic_mcp.server.http import TOKEN_ENV, BearerGate, is_loopback, transport_security, unsafe_bind


def settings(**flags: object) -> Settings:
    return build_settings({"sandbox": True, **flags}, env={})


def test_defaults_are_stdio_on_loopback() -> None:
    s = settings()
    assert (s.transport, s.host, s.port) == ("stdio", "127.0.0.1", 8000)


def test_environment_sets_transport_host_and_port() -> None:
    s = build_settings({}, env={"MAUTIC_MCP_TRANSPORT": "HTTP", "MAUTIC_MCP_HOST": "::1", "MAUTIC_MCP_PORT": "9000"})
    assert (s.transport, s.host, s.port) == ("http", "::1", 9000)
    assert build_settings({"port": "9001"}, env={"MAUTIC_MCP_PORT": "9000"}).port == 9001


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"transport": "sse"}, "--transport / MAUTIC_MCP_TRANSPORT"),
        ({"port": "0"}, "--port / MAUTIC_MCP_PORT"),
        ({"port": "http"}, "--port / MAUTIC_MCP_PORT"),
        ({"host": "evil.example/x"}, "--host / MAUTIC_MCP_HOST"),
        ({"host": "a b"}, "--host / MAUTIC_MCP_HOST"),
    ],
)
def test_bad_values_are_one_line(flags: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(**flags)
    assert named in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2", "LOCALHOST"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    assert unsafe_bind(settings(host=host), env={}) == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_other_addresses_need_a_token(host: str) -> None:
    refusal = unsafe_bind(settings(host=host), env={})
    assert TOKEN_ENV in refusal and "\n" not in refusal
    assert unsafe_bind(settings(host=host), env={TOKEN_ENV: "t0ken"}) == ""


@pytest.mark.parametrize("token", ["", "   ", "two words", "caf\u00e9"])
def test_a_blank_or_unsendable_token_is_refused(token: str) -> None:
    refusal = unsafe_bind(settings(), env={TOKEN_ENV: token})
    assert refusal.startswith(TOKEN_ENV) and "\n" not in refusal
    if token.strip():
        assert token not in refusal, "the token is never shown"


def test_rebinding_protection_names_the_bound_address() -> None:
    loopback = transport_security("127.0.0.1")
    assert loopback.enable_dns_rebinding_protection and "evil.example:*" not in loopback.allowed_hosts
    lan = transport_security("192.0.2.1")
    assert lan.enable_dns_rebinding_protection and "192.0.2.1:*" in lan.allowed_hosts
    assert "[fd00::1]:*" in transport_security("fd00::1").allowed_hosts
    assert not transport_security("0.0.0.0").enable_dns_rebinding_protection


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),
        (b"Bearer t0ken", True),
        (b"bearer t0ken", True),
        (b"Bearer t0ke", False),
        (b"Bearer t0kenx", False),
        (b"Basic t0ken", False),
        (b"t0ken", False),
    ],
)
def test_the_gate_wants_the_exact_bearer_token(header: bytes | None, allowed: bool) -> None:
    gate = BearerGate(lambda *_: None, "t0ken")  # type: ignore[arg-type]
    headers = [(b"authorization", header)] if header is not None else []
    assert gate.allowed({"type": "http", "headers": headers}) is allowed
