"""RFC 8288 Link header parsing (runtime/pagination/links.py)."""

from __future__ import annotations

import pytest

from connectory.runtime.pagination import parse_link_header


def test_one_link() -> None:
    assert parse_link_header('<https://a.example/items?page=2>; rel="next"') == [
        ("https://a.example/items?page=2", {"rel": "next"})
    ]


def test_several_links_github_style() -> None:
    header = (
        '<https://api.github.com/repositories/1/issues?page=2>; rel="next", '
        '<https://api.github.com/repositories/1/issues?page=34>; rel="last"'
    )
    assert parse_link_header(header) == [
        ("https://api.github.com/repositories/1/issues?page=2", {"rel": "next"}),
        ("https://api.github.com/repositories/1/issues?page=34", {"rel": "last"}),
    ]


def test_quoted_values_may_hold_commas_semicolons_and_angle_brackets() -> None:
    header = '<https://a/1>; title="a, b; <c>"; rel="next", <https://a/9>; rel=last'
    assert parse_link_header(header) == [
        ("https://a/1", {"title": "a, b; <c>", "rel": "next"}),
        ("https://a/9", {"rel": "last"}),
    ]


def test_rel_lists_and_case_insensitive_names() -> None:
    header = '<https://a/2>; REL="next alternate"; Type="application/json"'
    assert parse_link_header(header) == [
        ("https://a/2", {"rel": "next alternate", "type": "application/json"})
    ]


def test_whitespace_is_tolerated() -> None:
    header = '  < https://a/2 >  ;  rel = "next" ,<https://a/3>;rel=prev'
    assert parse_link_header(header) == [
        ("https://a/2", {"rel": "next"}),
        ("https://a/3", {"rel": "prev"}),
    ]


def test_parameter_without_a_value_does_not_hide_the_ones_after_it() -> None:
    header = '<https://a/2>; crossorigin; rel="next", <https://a/9>; rel="last"'
    assert parse_link_header(header) == [
        ("https://a/2", {"crossorigin": "", "rel": "next"}),
        ("https://a/9", {"rel": "last"}),
    ]


def test_relative_targets_are_returned_as_written() -> None:
    assert parse_link_header('</items?page=2>; rel="next"') == [("/items?page=2", {"rel": "next"})]


@pytest.mark.parametrize("header", ["", "garbage", "<https://a/2", 'rel="next"'])
def test_malformed_headers_give_no_links(header: str) -> None:
    assert parse_link_header(header) == []
