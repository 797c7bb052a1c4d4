"""Schemas a hostile catalog can hold, shared by the unit tests and the hardening suite."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$id", "$anchor")
"""The keywords that refer elsewhere or name a place to be referred to: none may be advertised."""


@contextlib.contextmanager
def silent_listener() -> Iterator[socket.socket]:
    """A TCP port that accepts connections into its backlog and never answers: a fetch from it would hang,
    and a connection shows in its backlog (see `accepted`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def accepted(sock: socket.socket) -> int:
    """How many connections wait in a `silent_listener`'s backlog; each is accepted and closed."""
    count = 0
    while True:
        try:
            connection, _ = sock.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def remote(port: int) -> dict[str, Any]:
    """References of every kind to a URL on `port` (remote, dynamic, recursive, relative, anchored)."""
    base = f"http://127.0.0.1:{port}"
    return {
        "type": "object",
        "$id": f"{base}/root.json",
        "$dynamicAnchor": "meta",
        "properties": {
            "id": {"type": "integer"},
            "meta": {"$dynamicRef": f"{base}/meta.json#meta"},
            "other": {"$ref": f"{base}/other.json"},
            "relative": {"$ref": "other.json#/x"},
            "anchor": {"$ref": "#here"},
            "again": {"$recursiveRef": "#", "$recursiveAnchor": True},
            "anchored": {"$id": f"{base}/nested.json", "$anchor": "here", "type": "string"},
        },
    }


def exponential(levels: int) -> dict[str, Any]:
    """Each definition refers to the next twice: inlined naively, 2**levels copies."""
    defs: dict[str, Any] = {
        f"d{n}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/d{n + 1}"}, "b": {"$ref": f"#/$defs/d{n + 1}"}},
        }
        for n in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {"type": "object", "properties": {"tree": {"$ref": "#/$defs/d0"}, "id": {"type": "integer"}}, "$defs": defs}


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"inner": node}}
    return {"type": "object", "properties": {"id": {"type": "integer"}, "deep": node}}
