"""Mappings: one-expression templates yield JSON values; lists and objects map item by item."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.errors import TemplateError
from connectory.mappings import compile_mapping, mapping_references
from connectory.templating import compile_template

ITEM = {
    "id": 7,
    "active": True,
    "score": 1.5,
    "owner": None,
    "tags": [{"name": "a", "on": True}, {"name": "b", "on": False}],
    "address": {"city": "Oslo"},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ item.id }}", 7),
        ("{{ item.active }}", True),
        ("{{ item.score }}", 1.5),
        ("{{ item.owner }}", None),
        ("{{ item.address }}", {"city": "Oslo"}),
        ("{{ item.missing }}", None),
        ("{{ item.missing.deeper }}", None),
        ("{{ item.id + 1 }}", 8),
        ("{{ item.tags | map(attribute='name') }}", ["a", "b"]),
        ("{{ item.tags | selectattr('on') | map(attribute='name') | list }}", ["a"]),
        ("{{ item.tags | rejectattr('on') | map(attribute='name') | first }}", "b"),
        ("{{ [item.id, item.address.city] }}", [7, "Oslo"]),
        ("{{ {'city': item.address.city, 'n': item.tags | length} }}", {"city": "Oslo", "n": 2}),
        ("{{ item.address | items | list }}", [["city", "Oslo"]]),
        ("{{ item.id }} {{ item.address.city }}", "7 Oslo"),
        ("{{ item.missing }} x", " x"),
        ("plain", "plain"),
        (42, 42),
        ({"a": "{{ item.id }}", "b": ["{{ item.active }}", 1]}, {"a": 7, "b": [True, 1]}),
    ],
)
def test_values(source: Any, expected: Any) -> None:
    assert compile_mapping(source).evaluate({"item": ITEM}) == expected


def test_underscore_names_are_refused() -> None:
    with pytest.raises(TemplateError, match="underscore"):
        compile_mapping("{{ item.__class__.__mro__ }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ item.tags | map(attribute='__class__') | list }}",
        "{{ item.tags | selectattr('__class__') | list }}",
    ],
)
def test_internals_stay_out_of_reach(source: str) -> None:
    value = compile_mapping(source).evaluate({"item": ITEM})
    assert value in (None, [None, None], [])


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("{% for x in item.tags %}{{ x }}{% endfor %}", "loop"),
        ("{{ item.keys() }}", "call"),
        ("{{ item.tags | center(9) }}", "allowed filters"),
    ],
)
def test_refused_syntax(source: str, what: str) -> None:
    with pytest.raises(TemplateError, match=what):
        compile_mapping(source)


def test_outputs_stay_capped() -> None:
    mapping = compile_mapping("{{ item.big | map('upper') | list }}")
    with pytest.raises(TemplateError, match="longer than"):
        mapping.evaluate({"item": {"big": ["x"] * 200_000}})


def test_text_templates_share_the_new_filters() -> None:
    text = compile_template("{{ parameters.tags | map(attribute='name') | join(',') }}")
    assert text.render({"parameters": {"tags": [{"name": "a"}, {"name": "b"}]}}) == "a,b"


def test_references() -> None:
    found = mapping_references({"a": "{{ filters.status }}", "b": ["{{ page_size }}", 3]})
    assert sorted(reference for _, reference in found) == ["filters.status", "page_size"]
