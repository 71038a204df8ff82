"""Selectors and record extraction (runtime/records.py)."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.errors import ResponseError
from connectory.runtime.records import Selector, extract_records, select

BODY = {
    "data": {"items": [{"id": 1}, {"id": 2}], "one": {"id": 9}, "count": 2, "none": None},
    "results": [{"id": "a", "tags": ["x", "y"]}],
    "@odata.nextLink": "https://next",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data.count", 2),
        ("$.data.count", 2),
        ("$.results[0].id", "a"),
        ("results[0].tags[-1]", "y"),
        ('["@odata.nextLink"]', "https://next"),
        ("$", BODY),
        ("data.missing", None),
        ("data.count.deeper", None),
        ("results[5]", None),
        ("results[-2]", None),
        ("data[0]", None),
    ],
)
def test_select(text: str, expected: Any) -> None:
    assert select(BODY, Selector.parse(text)) == expected


def test_invalid_selector_raises_value_error() -> None:
    with pytest.raises(ValueError, match="wildcards"):
        Selector.parse("data[*].id")


def test_selector_repr_shows_the_text() -> None:
    assert repr(Selector.parse("data.items")) == "Selector('data.items')"


class TestExtractRecords:
    def test_without_selector_a_list_body_is_the_records(self) -> None:
        assert extract_records([1, 2], None) == [1, 2]

    def test_without_selector_an_object_is_one_record(self) -> None:
        assert extract_records({"id": 1}, None) == [{"id": 1}]

    def test_without_selector_an_empty_body_has_no_records(self) -> None:
        assert extract_records(None, None) == []

    def test_selected_list(self) -> None:
        assert extract_records(BODY, Selector.parse("data.items")) == [{"id": 1}, {"id": 2}]

    def test_selected_object_is_one_record(self) -> None:
        assert extract_records(BODY, Selector.parse("data.one")) == [{"id": 9}]

    @pytest.mark.parametrize("text", ["data.none", "data.missing", "nothing.at.all"])
    def test_null_or_missing_means_no_records(self, text: str) -> None:
        assert extract_records(BODY, Selector.parse(text)) == []

    def test_a_scalar_is_an_error_that_names_the_selector(self) -> None:
        with pytest.raises(ResponseError, match=r"'data.count' points at a int"):
            extract_records(BODY, Selector.parse("data.count"))
