"""One tool definition, from a dict, a pydantic model or a typed function."""

from __future__ import annotations

from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, Field

import rill
from rill._request import prepare_request
from rill._tools import ToolSpec, tool_spec


class GetWeather(BaseModel):
    """Current weather for a city."""

    city: str = Field(description="City name")
    unit: Literal["c", "f"] = "c"


def get_time(tz: str, precise: bool = False) -> str:
    """The time now in a timezone.

    Longer text that is not part of the description.
    """
    return tz


def test_pydantic_model_tool() -> None:
    spec = tool_spec(GetWeather)
    assert spec.name == "GetWeather"
    assert spec.description == "Current weather for a city."
    assert spec.schema["required"] == ["city"]
    assert spec.schema["properties"]["unit"]["enum"] == ["c", "f"]


def test_function_tool() -> None:
    spec = tool_spec(get_time)
    assert (spec.name, spec.description) == ("get_time", "The time now in a timezone.")
    assert spec.schema["properties"] == {
        "tz": {"type": "string"},
        "precise": {"type": "boolean", "default": False},
    }
    assert spec.schema["required"] == ["tz"]


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}},
        {"name": "f", "description": "d", "parameters": {}},
        {"name": "f", "description": "d", "input_schema": {}},
    ],
)
def test_dict_tool_shapes(tool: dict[str, Any]) -> None:
    assert tool_spec(tool) == ToolSpec("f", "d", {})


@pytest.mark.parametrize(
    ("tools", "choice", "match"),
    [
        ([{"description": "no name"}], None, "no name"),
        ([42], None, "must be a dict"),
        ([GetWeather, GetWeather], None, "duplicate"),
        ([GetWeather], "get_time", "not among the tools"),
        ([GetWeather], 3, "tool_choice"),
    ],
)
def test_bad_tools_raise_at_the_call(tools: list[Any], choice: Any, match: str) -> None:
    kwargs: dict[str, Any] = {"tools": tools}
    if choice is not None:
        kwargs["tool_choice"] = choice
    with pytest.raises(rill.InvalidRequestError, match=match):
        rill.generate_stream("x", model="vllm/m", **kwargs)


def test_openai_rendering_of_tools_and_choice() -> None:
    request = prepare_request(
        "x", {"model": "vllm/m", "tools": [GetWeather, get_time], "tool_choice": "get_time"}
    )
    body = orjson.loads(request.http.body)
    assert [t["function"]["name"] for t in body["tools"]] == ["GetWeather", "get_time"]
    assert body["tools"][0]["type"] == "function"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    request = prepare_request("x", {"model": "vllm/m", "tools": [get_time], "tool_choice": "any"})
    assert orjson.loads(request.http.body)["tool_choice"] == "required"
