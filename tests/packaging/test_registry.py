"""server.json, the entry for the official MCP Registry, is ready to publish.

It is validated against a vendored copy of the registry's 2025-12-11 schema
(schemas/server.schema.2025-12-11.json, from modelcontextprotocol/registry,
internal/validators/schemas/2025-12-11.json at e361b5ff5a925b36a38eda0544bca8230a84558b: the copy the
registry's own validator embeds), offline. What the schema cannot know is checked against pyproject.toml:
the same version, the PyPI package that `uvx mautic-mcp` runs, and the `mcp-name:` marker in the README
(PyPI's description), which the registry reads to prove the package is ours.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator

from mautic_mcp.server import __version__
from mautic_mcp.server.config import ENV_NAMES
from tests.packaging.support import ROOT, project

SCHEMA_PATH = ROOT / "tests" / "packaging" / "schemas" / "server.schema.2025-12-11.json"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def load(name: str) -> Any:
    return json.loads((ROOT / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def problems(validator: Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '/'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_vendored_schema_is_the_2025_12_11_one() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$id"] == SCHEMA_URL
    assert load("server.json")["$schema"] == SCHEMA_URL


def test_server_json_is_valid_against_the_registry_schema(validator: Draft7Validator) -> None:
    assert problems(validator, load("server.json")) == []


def test_the_schema_refuses_what_the_registry_refuses(validator: Draft7Validator) -> None:
    """The vendored schema does check: a long description, a bad name and `latest` are each refused."""
    entry = load("server.json")
    for field, value in (("description", "x" * 101), ("name", "mautic-mcp")):
        assert problems(validator, {**entry, field: value}), field
    package = {**entry["packages"][0], "version": "latest"}
    assert problems(validator, {**entry, "packages": [package]})


def test_server_json_agrees_with_pyproject() -> None:
    entry = load("server.json")
    meta = project()
    assert re.fullmatch(r"io\.github\.[A-Za-z0-9-]+/mautic-mcp", entry["name"]), entry["name"]
    assert 1 <= len(entry["description"]) <= 100
    assert entry["version"] == meta["version"] == __version__
    (package,) = entry["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == meta["name"]
    assert package["version"] == meta["version"]
    assert package["runtimeHint"] == "uvx" and package["transport"] == {"type": "stdio"}
    assert "mautic-mcp" in meta["scripts"], "uvx mautic-mcp runs the script named like the package"


def test_environment_variables_are_settings_the_server_reads_and_are_described() -> None:
    (package,) = load("server.json")["packages"]
    names = [variable["name"] for variable in package["environmentVariables"]]
    assert len(names) == len(set(names))
    assert set(names) <= set(ENV_NAMES.values()), set(names) - set(ENV_NAMES.values())
    assert {"MEMBRANE_BIN", "MAUTIC_MCP_READ_ONLY", "MAUTIC_MCP_INTENTS", "MAUTIC_MCP_CONNECTION_ID"} <= set(names)
    assert all(len(variable.get("description", "")) > 20 for variable in package["environmentVariables"])
    assert not any(variable.get("isSecret") for variable in package["environmentVariables"])


def test_readme_carries_the_registry_marker() -> None:
    """The registry accepts the marker hidden in a comment; it must name server.json's `name` exactly."""
    readme = (ROOT / project()["readme"]).read_text(encoding="utf-8")
    markers = re.findall(r"mcp-name:\s*(\S+)", readme)
    assert markers == [load("server.json")["name"]], markers
    assert f"<!-- mcp-name: {load('server.json')['name']} -->" in readme
