"""The selector syntax shared by record_selector, cursor_path, next_url_path and total_path."""

from __future__ import annotations

import pytest

from connectory.spec import parse_selector
from connectory.spec.selectors import format_selector


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("data", ("data",)),
        ("data.items", ("data", "items")),
        ("$.results[0].id", ("results", 0, "id")),
        ("$[0]", (0,)),
        ("$", ()),
        ("items[-1]", ("items", -1)),
        ("a[0][1].b", ("a", 0, 1, "b")),
        ('["@odata.nextLink"]', ("@odata.nextLink",)),
        ("meta['next.cursor']", ("meta", "next.cursor")),
        ("next-page", ("next-page",)),
        ("  data.items  ", ("data", "items")),
    ],
)
def test_valid_selectors(text: str, steps: tuple[str | int, ...]) -> None:
    assert parse_selector(text) == steps
    assert parse_selector(format_selector(steps)) == steps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the selector is empty"),
        ("data..items", "unexpected '.' at character 6"),
        ("data.", "ends with '.'"),
        ("$.", "ends after '$.'"),
        (".data", "unexpected '.' at character 1"),
        ("data[x]", "neither an index [n] nor a quoted key"),
        ("data[0", "neither an index [n] nor a quoted key"),
        ("data]", "unexpected ']' at character 5"),
        ("data items", "has a space at character 5"),
        ("data.*", "wildcards (*) are not supported"),
        ("data[*]", "wildcards ([*]) are not supported"),
        ("data[0]x", "unexpected 'x' at character 8"),
    ],
)
def test_invalid_selectors_say_where_and_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_selector(text)
    assert message in str(caught.value)
    if text.strip():
        assert "e.g. data.items" in str(caught.value) or "quote such keys" in str(caught.value)
