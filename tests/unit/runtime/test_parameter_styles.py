"""OpenAPI parameter styles: what the runtime sends for each style, in the query and forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

from connectory.runtime import ConnectorClient
from connectory.runtime.styles import style_pairs
from connectory.spec import ConnectorSpec, check_connector_data


@pytest.mark.parametrize(
    ("style", "explode", "value", "sent"),
    [
        ("form", None, [1, 2], [("x", "1"), ("x", "2")]),
        ("form", False, [1, 2], [("x", "1,2")]),
        ("spaceDelimited", None, ["a", "b"], [("x", "a b")]),
        ("pipeDelimited", None, ["a", "b"], [("x", "a|b")]),
        ("form", None, {"a": 1, "b": True}, [("a", "1"), ("b", "true")]),
        ("form", False, {"a": 1, "b": 2}, [("x", "a,1,b,2")]),
        ("deepObject", True, {"order": 42}, [("x[order]", "42")]),
        (
            "deepObject",
            None,
            {"a": {"b": "c"}, "tags": ["p", "q"]},
            [("x[a][b]", "c"), ("x[tags][0]", "p"), ("x[tags][1]", "q")],
        ),
        ("pipeDelimited", None, 7, [("x", "7")]),
    ],
)
def test_each_style_serialises_as_openapi_says(
    style: str, explode: bool | None, value: Any, sent: list[tuple[str, str]]
) -> None:
    assert style_pairs("x", value, style, explode) == sent


def _spec(parameters: list[dict[str, Any]], *, form: bool = False) -> ConnectorSpec:
    operation: dict[str, Any] = {"name": "op", "path": "/op", "parameters": parameters}
    if form:
        operation.update(method="POST", request_body={"content_type": "form"})
    return ConnectorSpec.model_validate(
        {"name": "Styles", "base_url": "https://api.example.com", "operations": [operation]}
    )


async def _sent(spec: ConnectorSpec, arguments: dict[str, Any]) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with ConnectorClient(spec, transport=httpx.MockTransport(handler)) as client:
        await client.call("op", arguments)
    return seen[0]


async def test_query_parameters_are_sent_in_their_style() -> None:
    spec = _spec(
        [
            {"name": "ids", "type": "array", "style": "form", "explode": False},
            {"name": "tags", "type": "array", "style": "pipeDelimited"},
            {"name": "filter", "type": "object", "style": "deepObject"},
            {"name": "plain", "type": "array"},
        ]
    )
    request = await _sent(
        spec,
        {"ids": [1, 2], "tags": ["a", "b"], "filter": {"status": "open"}, "plain": ["x", "y"]},
    )
    query = unquote(request.url.query.decode())
    assert "ids=1,2" in query
    assert "tags=a|b" in query
    assert "filter[status]=open" in query
    assert "plain=x&plain=y" in query  # no style: the connector's own rule


async def test_a_form_body_field_in_deep_object_style() -> None:
    # The case: metadata[order]=42, not metadata={"order":"42"}.
    spec = _spec(
        [
            {"name": "metadata", "location": "body", "type": "object", "style": "deepObject"},
            {
                "name": "expand",
                "location": "body",
                "type": "array",
                "style": "form",
                "explode": False,
            },
            {"name": "amount", "location": "body", "type": "integer"},
        ],
        form=True,
    )
    request = await _sent(spec, {"metadata": {"order": "42"}, "expand": ["a", "b"], "amount": 5})
    assert parse_qsl(request.content.decode()) == [
        ("metadata[order]", "42"),
        ("expand", "a,b"),
        ("amount", "5"),
    ]


def test_style_is_refused_where_it_does_not_apply() -> None:
    report = check_connector_data(
        {
            "name": "Styles",
            "base_url": "https://api.example.com",
            "operations": [
                {
                    "name": "op",
                    "path": "/op/{id}",
                    "parameters": [
                        {"name": "id", "location": "path", "required": True, "style": "form"}
                    ],
                }
            ],
        }
    )
    assert any("style applies to query and form-body" in p.message for p in report.errors)
