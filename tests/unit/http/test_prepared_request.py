"""The request as plain data (http/request.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from connectory.http.request import PreparedRequest, query_pairs, text_value


def test_text_value() -> None:
    assert text_value(True) == "true"
    assert text_value(False) == "false"
    assert text_value(3) == "3"
    assert text_value(2.5) == "2.5"
    assert text_value({"a": [1]}) == '{"a":[1]}'
    assert text_value(["x"]) == '["x"]'


def test_query_pairs_repeat_list_items() -> None:
    assert query_pairs({"tag": ["a", True], "n": 1}) == [("tag", "a"), ("tag", "true"), ("n", "1")]


def test_full_url_without_params_is_the_url() -> None:
    assert PreparedRequest("GET", "https://a/x?y=1").full_url() == "https://a/x?y=1"


def test_full_url_encodes_params() -> None:
    request = PreparedRequest("GET", "https://a/x", params={"q": "a b&c", "t": ["1", "2"]})
    url = request.full_url()
    assert url.startswith("https://a/x?")
    assert parse_qsl(url.split("?", 1)[1]) == [("q", "a b&c"), ("t", "1"), ("t", "2")]


def test_params_are_merged_into_an_existing_query_replacing_same_names() -> None:
    request = PreparedRequest(
        "GET", "https://a/x?page=2&api_key=old", params={"api_key": "new", "extra": "1"}
    )
    query = parse_qsl(request.full_url().split("?", 1)[1])
    assert sorted(query) == [("api_key", "new"), ("extra", "1"), ("page", "2")]


def test_copy_is_independent() -> None:
    original = PreparedRequest("POST", "https://a/x", {"a": "1"}, {"H": "1"}, b"body")
    copy = original.copy()
    copy.params["b"] = "2"
    copy.headers["H"] = "2"
    assert original.params == {"a": "1"}
    assert original.headers == {"H": "1"}
    assert copy.content == b"body"
