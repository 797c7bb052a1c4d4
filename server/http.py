"""`mautic-mcp --transport http`: streamable HTTP at http://HOST:PORT/mcp, opt-in and safe by default.

One process serves every client session: they share the one `MauticServer` (its set-up, its tools,
the one `Runner` that caps CLI processes at `--max-concurrency`), and each hears of a changed tool list
(2026-07-28 clients on `subscriptions/listen`, 2025-era sessions by `notifications/tools/list_changed`).

Trust model: every client of the process acts through the one Membrane login, so the bearer token
(`MAUTIC_MCP_HTTP_TOKEN`, environment only) is the only gate. Without a token the server binds to
loopback addresses only; Host headers are checked (DNS-rebinding protection) for every bind but a
wildcard one, which needs a token. The token is compared in constant time and never logged; uvicorn
writes no access log.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Iterator, Mapping

import anyio
import uvicorn
from mcp.server import NotificationOptions
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mautic_mcp.server.config import Settings
from mautic_mcp.server.server import MauticServer, build_server, exiting_on_signal

log = logging.getLogger(__name__)

TOKEN_ENV = "MAUTIC_MCP_HTTP_TOKEN"
PATH = "/mcp"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::"})
HTTP_LEGACY_SESSIONS = 10_000
"""2025-era sessions kept to tell of a changed list: as many as the SDK keeps open (each is forgotten when it ends)."""


def http_token(env: Mapping[str, str] | None = None) -> str | None:
    """The bearer token from the environment; None when unset or blank."""
    raw = (os.environ if env is None else env).get(TOKEN_ENV)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def unsafe_bind(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """Why these settings may not serve HTTP (one line), or "" when they may."""
    host = settings.host
    raw = (os.environ if env is None else env).get(TOKEN_ENV)
    token = http_token(env)
    if raw is not None and token is None:
        return f"{TOKEN_ENV} is set but blank: set a token (e.g. `openssl rand -hex 32`) or unset it"
    if token is not None and any(ord(c) < 0x21 or ord(c) > 0x7E for c in token):
        return f"{TOKEN_ENV} must be printable ASCII without spaces (it is sent in an HTTP header)"
    if token is None and not is_loopback(host):
        return (
            f"refusing to serve HTTP on {host} without a token: every client would act through this "
            f"Membrane login. Set {TOKEN_ENV}, or bind to 127.0.0.1 (--host / MAUTIC_MCP_HOST)"
        )
    return ""


def transport_security(host: str) -> TransportSecuritySettings:
    """DNS-rebinding protection: only Host (and Origin) headers naming this server are served.

    A wildcard bind (0.0.0.0, ::) cannot know the names clients use, so it checks none; it needs a token,
    which a rebinding browser page cannot send.
    """
    if host in WILDCARD or host == "":
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if not is_loopback(host):
        hosts.append(f"[{host}]:*" if ":" in host else f"{host}:*")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts],
    )


class BearerGate:
    """Every request without `Authorization: Bearer <token>` is answered 401, whatever its path."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        body = b'{"error":"invalid_token","error_description":"a bearer token is required"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer error="invalid_token"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def allowed(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = bytes(value).partition(b" ")
                if scheme.lower() == b"bearer":
                    given = credentials.strip()
                break
        # compare_digest takes the same time wherever the first difference is.
        return hmac.compare_digest(given, self._token)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the server's own (`exiting_on_signal`) end the CLI processes."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def http_app(app: MauticServer, token: str | None) -> ASGIApp:
    """The SDK's streamable HTTP app over `app`, behind the bearer gate when a token is set."""
    server = build_server(app)
    options = server.create_initialization_options(notification_options=NotificationOptions(tools_changed=True))
    # Each HTTP session's handshake advertises tools.listChanged, as stdio does.
    setattr(server, "create_initialization_options", lambda *_, **__: options)  # noqa: B010
    starlette = server.streamable_http_app(
        streamable_http_path=PATH, host=app.settings.host, transport_security=transport_security(app.settings.host)
    )
    return BearerGate(starlette, token) if token is not None else starlette


def serve_http_command(settings: Settings) -> int:
    """`mautic-mcp --transport http`: 2 for settings that may not serve, 1 when the port cannot be had."""
    refusal = unsafe_bind(settings)
    if refusal:
        print(f"mautic-mcp: {refusal}", file=sys.stderr)
        return 2
    try:
        listener = listen_socket(settings.host, settings.port)
    except OSError as error:
        print(
            f"mautic-mcp: cannot listen on {settings.host} port {settings.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 1
    try:
        anyio.run(serve_http, settings, listener)
    except KeyboardInterrupt:
        return 130
    return 0


def listen_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts, so a taken port is one line and no CLI process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host.strip("[]"), port), family=family, backlog=2048)


async def serve_http(settings: Settings, listener: socket.socket | None = None) -> None:
    token = http_token()
    app = MauticServer(settings)
    app.legacy_session_limit = HTTP_LEGACY_SESSIONS
    config = uvicorn.Config(
        http_app(app, token),
        host=settings.host,
        port=settings.port,
        log_config=None,  # the server's own one-line handler on stderr
        access_log=False,  # no request lines: nothing a token or query could end up in
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info(
        "serving MCP over streamable HTTP at http://%s:%d%s (%s)",
        shown_host,
        settings.port,
        PATH,
        "bearer token required" if token else "no token: loopback only",
    )
    async with exiting_on_signal(app):
        await _Uvicorn(config).serve(sockets=[listener] if listener is not None else None)
