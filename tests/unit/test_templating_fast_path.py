"""Plain substitutions render without Jinja2, with exactly Jinja2's results and errors."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.errors import TemplateError
from connectory.template_engine import compile_source, render_compiled
from connectory.templating import Template, find_references

VARIABLES: dict[str, Any] = {
    "credentials": {"token": "t-1", "n": 5, "none": None, "flag": True, "items": "x"},
    "config": {"region": "eu", "weird key": "w", "nested": {"a": 1}},
    "parameters": {},
}

SOURCES = [
    "Bearer {{ credentials.token }}",
    "{{credentials.token}}",
    "{{ credentials['token'] }}-{{ config[\"region\"] }}",
    "{{ config['weird key'] }}",
    "{{ credentials.n }} {{ credentials.none }} {{ credentials.flag }}",
    "{{ config.nested }}",
    "{{ config }}",
    "a }} b {{ credentials.token }}",
    "line\n{{ credentials.token }}\n",
    "{{ credentials.missing }}",
    "{{ secrets.x }}",
    "{{ parameters.q }}",
    "{{ credentials.token.more }}",
]


def jinja(source: str) -> tuple[str, str]:
    try:
        return "ok", render_compiled(compile_source(source), source, VARIABLES)
    except TemplateError as error:
        return "error", str(error)


def fast(source: str) -> tuple[str, str]:
    try:
        return "ok", Template(source).render(VARIABLES)
    except TemplateError as error:
        return "error", str(error)


@pytest.mark.parametrize("source", SOURCES)
def test_fast_path_agrees_with_jinja(source: str) -> None:
    assert fast(source) == jinja(source)


@pytest.mark.parametrize(
    "source",
    ["{{ credentials.items }}", "{{ credentials.token | upper }}", "{{- credentials.token }}",
     "{% if config %}x{% endif %}", "{{ credentials[config.region] }}"],
)  # fmt: skip
def test_anything_more_goes_to_jinja(source: str) -> None:
    template = Template(source)
    assert template._parts is None
    assert fast(source) == jinja(source)


def test_references_of_plain_templates() -> None:
    assert {str(r) for r in find_references("{{ credentials.a }}/{{ config['b'] }}{{ x }}")} == {
        "credentials.a",
        "config.b",
        "x",
    }
