"""`mautic-mcp --sandbox` driven by MCP clients that share no code with the server's Python SDK.

The TypeScript SDK client (tests/clients/ts_sdk_client.mjs) and the MCP Inspector CLI parse the
wire format on their own, so they catch mistakes a Python-SDK client would share with the server.
They need Node and `npm ci --prefix tests/clients`. Without Node the tests are skipped, unless the
CI environment variable is set: then a missing Node or node_modules is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import mautic_mcp_argv

REPO = Path(__file__).resolve().parents[2]
CLIENTS_DIR = REPO / "tests" / "clients"
NODE_MODULES = CLIENTS_DIR / "node_modules"
TS_SDK_CLIENT = CLIENTS_DIR / "ts_sdk_client.mjs"
INSPECTOR_PACKAGE = NODE_MODULES / "@modelcontextprotocol" / "inspector"
SUBPROCESS_TIMEOUT = 120  # seconds; the slowest run (TS client, with a cancelled call) takes a few
PAGE_SIZE = "7"  # small enough that the sandbox's tools fill several tools/list pages

TS_SDK_CHECKS = (
    "initialize",
    "tools/list follows every nextCursor",
    "tool names are unique and match ^[a-zA-Z0-9_-]{1,64}$",
    "list_contacts {limit: 3} returns records",
    "get_contact returns the listed contact",
    "proxy_request GET /api/contacts returns total and contacts",
    "invalid arguments give isError naming the fields",
    "an unknown tool is a JSON-RPC invalid-params error",
    "an aborted slow call rejects promptly",
    "a normal call after the cancellation still works",
)


@pytest.fixture
def node() -> str:
    """The node executable; skip without it locally, fail without it (or node_modules) in CI."""
    node = shutil.which("node")
    in_ci = bool(os.environ.get("CI"))
    if node is None:
        if in_ci:
            pytest.fail("CI is set but `node` is not on PATH: .ci/run installs the Node the independent clients need")
        pytest.skip("`node` is not on PATH: independent-client tests skipped (set CI=1 to make this a failure)")
    if not NODE_MODULES.is_dir():
        pytest.fail(f"{NODE_MODULES} is missing: run `npm ci --prefix tests/clients`")
    needed = json.loads((INSPECTOR_PACKAGE / "package.json").read_text(encoding="utf-8"))["engines"]["node"]
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if not node_satisfies(version, needed):
        message = f"node {version} is older than the pinned MCP Inspector needs ({needed}): .ci/run installs one"
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)
    return node


def node_satisfies(version: str, needed: str) -> bool:
    """`v20.20.2` against `>=22.19.0`, the only form of `engines` the pinned Inspector uses."""
    match = re.fullmatch(r">=\s*(\d+(?:\.\d+)*)", needed.strip())
    assert match, f"unexpected engines range {needed!r}"
    have = [int(part) for part in version.lstrip("v").split(".")[:3]]
    want = [int(part) for part in match.group(1).split(".")]
    return have >= want + [0] * (3 - len(want))


@pytest.fixture
def server_command() -> list[str]:
    return mautic_mcp_argv("--sandbox")


@pytest.fixture
def sandbox_env(tmp_path: Path) -> dict[str, str]:
    """The environment for one run: a fresh sandbox store, no knobs or settings leaking in from outside."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MEMBRANE_SANDBOX_", "MAUTIC_MCP_", "MEMBRANE_BIN"))
    }
    env.update(
        MEMBRANE_SANDBOX_DB=str(tmp_path / "sandbox.sqlite3"),
        MEMBRANE_SANDBOX_KNOBS=str(tmp_path / "knobs.json"),
        MAUTIC_MCP_PAGE_SIZE=PAGE_SIZE,
        # One CLI process at a time: the call after a cancelled one can only run once the server has
        # really stopped the cancelled CLI process, which the TS client's timing check then shows.
        MAUTIC_MCP_MAX_CONCURRENCY="1",
        MAUTIC_MCP_CACHE_DIR=str(tmp_path / "cache"),  # the test's own, out of the user's
    )
    return env


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr[-4000:]}"


def inspector_script() -> Path:
    """The inspector's `mcp-inspector` bin, read from its package.json (npm's .bin shims differ by OS)."""
    manifest = json.loads((INSPECTOR_PACKAGE / "package.json").read_text(encoding="utf-8"))
    return INSPECTOR_PACKAGE / manifest["bin"]["mcp-inspector"]


def inspector(node: str, server: list[str], env: dict[str, str], *options: str) -> list[str]:
    """`mcp-inspector --cli` with the server's environment passed by -e: the inspector gives a stdio
    server only a few variables of its own environment (PATH, HOME, ...)."""
    server_env = []
    for name in ("MEMBRANE_SANDBOX_DB", "MAUTIC_MCP_PAGE_SIZE", "MAUTIC_MCP_CACHE_DIR"):
        server_env += ["-e", f"{name}={env[name]}"]
    return [node, str(inspector_script()), "--cli", *options, "--format=json", *server_env, "--", *server]


def test_typescript_sdk_client(node: str, server_command: list[str], sandbox_env: dict[str, str]) -> None:
    result = run([node, str(TS_SDK_CLIENT), *server_command], sandbox_env)
    assert result.returncode == 0, describe(result)
    assert "not ok" not in result.stdout, describe(result)
    passed = [line for line in result.stdout.splitlines() if line.startswith("ok - ")]
    for check in TS_SDK_CHECKS:
        assert any(line == f"ok - {check}" or line.startswith(f"ok - {check} (") for line in passed), (
            f"check {check!r} did not pass\n{describe(result)}"
        )
    pages = re.search(r"ok - tools/list follows every nextCursor \((\d+) tools in (\d+) pages\)", result.stdout)
    assert pages, describe(result)
    assert int(pages[2]) >= 2, f"expected several tools/list pages with page size {PAGE_SIZE}\n{describe(result)}"


def test_inspector_lists_tools_strictly(node: str, server_command: list[str], sandbox_env: dict[str, str]) -> None:
    result = run(inspector(node, server_command, sandbox_env, "--method=tools/list", "--strict"), sandbox_env)
    assert result.returncode == 0, describe(result)
    output = json.loads(result.stdout)
    tools = output["result"]["tools"]  # every page: the inspector follows nextCursor itself
    names = [tool["name"] for tool in tools]
    assert {"proxy_request", "list_contacts", "get_contact", "create_contact"} <= set(names), names
    assert len(names) == len(set(names)), names
    assert len(names) > int(PAGE_SIZE), f"only the first tools/list page came back: {names}"
    assert all(tool["inputSchema"]["type"] == "object" for tool in tools)
    # --strict exits 6 on error-severity portability findings; warnings would be listed too: expect none.
    findings = [
        (tool["toolName"], finding["severity"], finding["path"], finding["issue"])
        for tool in output.get("schemaFindings", [])
        for finding in tool["findings"]
    ]
    assert not findings, findings


def test_inspector_calls_a_tool(node: str, server_command: list[str], sandbox_env: dict[str, str]) -> None:
    call = ("--method=tools/call", "--tool-name=list_contacts", '--tool-args-json={"limit": 3}')
    result = run(inspector(node, server_command, sandbox_env, *call), sandbox_env)
    assert result.returncode == 0, describe(result)
    answer = json.loads(result.stdout)["result"]
    assert not answer.get("isError"), describe(result)
    [text] = [block["text"] for block in answer["content"] if block["type"] == "text"]
    data = json.loads(text)
    assert 1 <= len(data["records"]) <= 3, data
    assert all("id" in record for record in data["records"]), data
    assert "structuredContent" not in answer, "the JSON is sent once, as text"
