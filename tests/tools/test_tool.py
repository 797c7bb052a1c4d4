"""The one call template: validate → connection → run → shape, whatever the tool."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from mcp.types import CallToolResult, TextContent, Tool

from mautic_mcp.membrane.client import Membrane
from mautic_mcp.membrane.errors import ErrorCode, MembraneError
from mautic_mcp.membrane.runner import Runner
from mautic_mcp.tools.registry import ToolRegistry, build_registry
from mautic_mcp.tools.shaping import fit_value
from mautic_mcp.tools.tool import InvalidArguments, Kind, ServerTool, call_tool

MEMBRANE = Membrane(Runner(["membrane-not-used"], timeout=1, max_concurrency=1))


class Recorder:
    """A tool that records each step it is asked to do and answers what it is told to."""

    kind = Kind.WRITE

    def __init__(self, answer: Any = None, error: MembraneError | None = None) -> None:
        self.steps: list[str] = []
        self.answer = answer
        self.error = error
        self.tool = Tool(name="recorder", input_schema={"type": "object"})

    @property
    def name(self) -> str:
        return "recorder"

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        self.steps.append("validate")
        if "bad" in arguments:
            raise InvalidArguments("'bad': not allowed")
        return dict(arguments)

    async def check(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return self.validate(arguments)

    async def run(self, membrane: Membrane, connection_id: str, call: dict[str, Any]) -> Any:
        self.steps.append(f"run {connection_id}")
        if self.error is not None:
            raise self.error
        return self.answer

    def failure(self, call: dict[str, Any], error: MembraneError) -> str:
        return f"recorder failed: {error.message}"

    async def present(self, call: dict[str, Any], answer: Any, max_chars: int, reread: Any) -> str:
        self.steps.append("present")
        return fit_value(answer, max_chars)


def connection(steps: list[str], problem: MembraneError | None = None):
    async def get() -> str:
        steps.append("connection")
        if problem is not None:
            raise problem
        return "conn-1"

    return get


def text(result: CallToolResult) -> str:
    assert isinstance(result.content[0], TextContent)
    return result.content[0].text


async def call(tool: Recorder, arguments: dict[str, Any] | None, problem: MembraneError | None = None):
    return await call_tool(
        tool, arguments, membrane=MEMBRANE, connection=connection(tool.steps, problem), max_chars=2_000
    )


async def test_a_good_call_runs_every_step_in_order_and_is_shaped_as_json():
    tool = Recorder(answer={"id": 1, "empty": None})
    result = await call(tool, {"id": 1})
    assert tool.steps == ["validate", "connection", "run conn-1", "present"]
    assert not result.is_error and json.loads(text(result)) == {"id": 1}
    assert result.structured_content is None, "the JSON is sent once, as text"


async def test_invalid_arguments_never_ask_for_the_connection():
    tool = Recorder()
    result = await call(tool, {"bad": 1})
    assert tool.steps == ["validate"]
    assert result.is_error and "Invalid arguments for recorder: 'bad': not allowed" in text(result)
    assert "Nothing was sent" in text(result)


async def test_no_connection_means_nothing_runs_and_the_fix_is_given():
    tool = Recorder()
    problem = MembraneError(ErrorCode.NOT_LOGGED_IN, "Not logged in.", "Run `membrane login --tenant`.")
    result = await call(tool, None, problem)
    assert tool.steps == ["validate", "connection"]
    assert result.is_error and "membrane login --tenant" in text(result)


async def test_a_failed_run_is_worded_by_the_tool():
    tool = Recorder(error=MembraneError(ErrorCode.API_ERROR, "Mautic answered with status 422.", "Fix it."))
    result = await call(tool, {})
    assert result.is_error and text(result) == "recorder failed: Mautic answered with status 422. Fix it."


async def test_text_answers_stay_text():
    result = await call(Recorder(answer="<html>not json</html>"), {})
    assert text(result) == "<html>not json</html>" and result.structured_content is None


def test_the_registry_holds_actions_then_proxy_and_refuses_two_tools_with_one_name():
    registry = build_registry([], read_only=True)
    assert [tool.name for tool in registry] == ["proxy_request"]
    assert registry.get("proxy_request") is not None and registry.get("nope") is None
    recorder: ServerTool[Any] = Recorder()
    with pytest.raises(ValueError, match="two tools are named 'recorder'"):
        ToolRegistry([recorder, Recorder()])
