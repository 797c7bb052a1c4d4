"""The Claude Desktop extension: manifest.json, the bundle `mcpb pack` makes of it, and a server installed from it.

The bundle is a uv project (`server.type: "uv"`): Claude Desktop's own uv builds it from its pyproject.toml.
Here the bundle is packed with the pinned `@anthropic-ai/mcpb` (tests/clients), unpacked (it is a zip) and
installed into a fresh venv offline, and `mautic-mcp tools --sandbox` runs from that install. The mcpb tests
need Node and `npm ci --prefix tests/clients`: skipped without Node, failed without it when CI is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mautic_mcp.server.config import DEFAULT_INTENTS, ENV_NAMES, build_settings
from tests.packaging.support import ROOT, checked, fresh_venv, pip_install, project, purelib_of, run

MCPB_PACKAGE = ROOT / "tests" / "clients" / "node_modules" / "@anthropic-ai" / "mcpb"
BUNDLE_TOP = {"manifest.json", "pyproject.toml", "README.md", "server", "tools", "membrane", "sandbox"}
SETTINGS_ENV = {
    "membrane_bin": "MEMBRANE_BIN",
    "read_only": "MAUTIC_MCP_READ_ONLY",
    "intents": "MAUTIC_MCP_INTENTS",
    "connection_id": "MAUTIC_MCP_CONNECTION_ID",
}
"""Each user_config entry and the environment variable the manifest passes it in (the server's own setting)."""
USER_CONFIG_TYPES = {"membrane_bin": "file", "read_only": "boolean", "intents": "string", "connection_id": "string"}
VARIABLE = re.compile(r"\$\{([^}]+)\}")


def manifest() -> dict[str, Any]:
    return json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def host_config(values: dict[str, Any], dirname: str = "/bundle") -> dict[str, Any]:
    """`mcp_config` as the host fills it in (mcpb's getMcpConfigForManifest): the user's values over the
    defaults, booleans as "true"/"false", `${__dirname}` the bundle's folder; an unknown variable stays as is."""
    merged = {key: entry["default"] for key, entry in manifest()["user_config"].items() if "default" in entry}
    merged.update(values)
    variables = {"__dirname": dirname}
    for key, value in merged.items():
        variables[f"user_config.{key}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), value)
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    config: dict[str, Any] = fill(manifest()["server"]["mcp_config"])
    return config


# --- the manifest, without Node ---


def test_manifest_describes_this_project() -> None:
    data = manifest()
    meta = project()
    assert data["manifest_version"] == "0.4"
    assert data["name"] == meta["name"] and data["version"] == meta["version"]
    assert data["server"]["type"] == "uv"
    assert (ROOT / data["server"]["entry_point"]).is_file()
    assert data["server"]["entry_point"].split("/")[0] in BUNDLE_TOP
    python = data["compatibility"]["runtimes"]["python"]
    assert re.fullmatch(r">=\d+\.\d+ <\d+", python), "a space-separated range, as mcpb wants it"
    assert python.split()[0] == meta["requires-python"]
    config = data["server"]["mcp_config"]
    assert config["command"] == "uv" and config["args"][-1] in meta["scripts"]
    assert config["args"][:3] == ["run", "--directory", "${__dirname}"]


def test_manifest_settings_are_the_server_settings() -> None:
    data = manifest()
    assert {key: entry["type"] for key, entry in data["user_config"].items()} == USER_CONFIG_TYPES
    env = data["server"]["mcp_config"]["env"]
    assert env == {name: f"${{user_config.{key}}}" for key, name in SETTINGS_ENV.items()}
    assert set(env) <= set(ENV_NAMES.values())
    # Every optional entry has a default: the host leaves a variable without a value as literal `${...}` text.
    assert all(entry.get("required") or "default" in entry for entry in data["user_config"].values())


def test_the_hosts_environment_builds_the_settings_meant() -> None:
    chosen = host_config(
        {"membrane_bin": "/opt/bin/membrane", "read_only": True, "intents": "contacts; emails", "connection_id": "c1"}
    )
    assert "${" not in json.dumps(chosen)
    assert chosen["args"][2] == "/bundle"
    settings = build_settings({}, env=chosen["env"])
    assert settings.membrane_bin == "/opt/bin/membrane" and settings.read_only
    assert settings.intents == ("contacts", "emails") and settings.connection_id == "c1"

    defaults = build_settings({}, env=host_config({"membrane_bin": "/opt/bin/membrane"})["env"])
    assert not defaults.read_only and defaults.intents == DEFAULT_INTENTS and defaults.connection_id is None


# --- mcpb validate and pack, and the bundle installed ---


@pytest.fixture(scope="module")
def mcpb() -> list[str]:
    """`node <mcpb's cli>`; skip without Node locally, fail without Node or node_modules in CI."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but `node` is not on PATH: the bundle tests need Node (see .ci/run)")
        pytest.skip("`node` is not on PATH: bundle tests skipped (set CI=1 to make this a failure)")
    if not MCPB_PACKAGE.is_dir():
        pytest.fail(f"{MCPB_PACKAGE} is missing: run `npm ci --prefix tests/clients`")
    script = json.loads((MCPB_PACKAGE / "package.json").read_text(encoding="utf-8"))["bin"]
    return [node, str(MCPB_PACKAGE / (script if isinstance(script, str) else script["mcpb"]))]


@pytest.fixture(scope="module")
def bundle(mcpb: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "mautic-mcp.mcpb"
    checked(run([*mcpb, "pack", ROOT, out], cwd=ROOT))
    return out


def test_mcpb_validates_the_manifest(mcpb: list[str]) -> None:
    done = checked(run([*mcpb, "validate", ROOT / "manifest.json"], cwd=ROOT))
    assert "passes" in done.stdout, done.stdout


def test_bundle_holds_the_package_and_its_metadata_only(bundle: Path) -> None:
    names = zipfile.ZipFile(bundle).namelist()
    assert {name.split("/", 1)[0] for name in names} == BUNDLE_TOP
    assert not [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".egg-info"))]
    tracked = checked(run(["git", "ls-files", "-z", *sorted(BUNDLE_TOP)], cwd=ROOT)).stdout.split("\0")
    missing = sorted({name for name in tracked if name} - set(names))
    assert not missing, f"tracked files left out of the bundle: {missing}"
    assert "sandbox/README.md" in names
    assert json.loads(zipfile.ZipFile(bundle).read("manifest.json")) == manifest()


def test_bundle_installs_into_a_fresh_venv_and_serves_tools(bundle: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(bundle).extractall(unpacked)
    venv, env = fresh_venv(tmp_path)
    pip_install(venv, env, unpacked)
    log = tmp_path / "sandbox-invocations.jsonl"
    env = {**env, "MEMBRANE_SANDBOX_DB": str(tmp_path / "sandbox.db"), "MEMBRANE_SANDBOX_LOG": str(log)}
    work = tmp_path / "work"
    work.mkdir()
    tools = checked(run([venv / "bin" / "mautic-mcp", "tools", "--sandbox"], cwd=work, env=env))
    assert "list_contacts" in tools.stdout and "proxy_request" in tools.stdout, tools.stdout + tools.stderr
    assert log.exists() and '"action"' in log.read_text(), "the tools did not come from membrane-sandbox"
    where = checked(
        run(
            [venv / "bin" / "python", "-c", "import mautic_mcp.server; print(mautic_mcp.server.__file__)"],
            cwd=work,
            env=env,
        )
    )
    assert Path(where.stdout.strip()) == purelib_of(venv) / "mautic_mcp" / "server" / "__init__.py"
