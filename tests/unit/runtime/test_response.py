"""Decoding bodies and checking them against the response schema (runtime/response.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import ResponseError
from connectory.http.redaction import Redactor
from connectory.http.reply import Reply
from connectory.runtime.response import (
    MAX_MISMATCHES,
    ResponseChecker,
    decode_body,
    decode_error_body,
    decode_json_page,
    is_json_type,
    json_path,
)


def _reply(content: bytes, content_type: str | None = None) -> Reply:
    headers = httpx.Headers({"content-type": content_type} if content_type else {})
    return Reply(200, headers, content, "https://api.example.com/x", 0.01)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/problem+json", True),
        ("application/vnd.api+json", True),
        ("text/json", True),
        ("text/plain", False),
        ("application/jsonl", False),
        ("", False),
    ],
)
def test_is_json_type(content_type: str, expected: bool) -> None:
    assert is_json_type(content_type) is expected


class TestDecodeBody:
    def test_json(self) -> None:
        assert decode_body(_reply(b'{"a": [1]}', "application/json; charset=utf-8")) == {"a": [1]}

    def test_problem_json(self) -> None:
        assert decode_body(_reply(b'{"title": "x"}', "application/problem+json")) == {"title": "x"}

    def test_empty_body_is_none(self) -> None:
        assert decode_body(_reply(b"", "application/json")) is None

    def test_invalid_json_under_a_json_type_is_a_clear_error(self) -> None:
        with pytest.raises(ResponseError) as caught:
            decode_body(_reply(b'{"data": [1, 2', "application/json"))
        message = str(caught.value)
        assert "application/json" in message
        assert "not valid JSON" in message
        assert "14 bytes received" in message

    def test_text_is_returned_as_text(self) -> None:
        assert decode_body(_reply(b"hello, world", "text/plain")) == "hello, world"

    def test_json_sent_as_text_is_parsed(self) -> None:
        assert decode_body(_reply(b'  [{"id": 1}]', "text/plain")) == [{"id": 1}]

    def test_text_that_only_looks_like_json_stays_text(self) -> None:
        assert decode_body(_reply(b"[not json]", "text/plain")) == "[not json]"

    def test_declared_charset_is_used(self) -> None:
        content = "café".encode("latin-1")
        assert decode_body(_reply(content, "text/plain; charset=latin-1")) == "café"

    def test_binary_is_described_not_returned(self) -> None:
        assert decode_body(_reply(b"\xff\xfe\x00\x81", "image/png")) == "<4 bytes of image/png>"

    def test_unknown_charset_is_described(self) -> None:
        result = decode_body(_reply(b"abc", "text/plain; charset=no-such-charset"))
        assert result == "<3 bytes of text/plain>"


class TestDecodeJsonPage:
    def test_pages_are_json_whatever_the_content_type(self) -> None:
        assert decode_json_page(_reply(b"[1, 2]", "text/plain")) == [1, 2]

    def test_a_page_that_is_not_json_is_an_error(self) -> None:
        with pytest.raises(ResponseError, match="paginated operations need JSON"):
            decode_json_page(_reply(b"<html>", "text/html"))


class TestResponseChecker:
    SCHEMA: dict[str, Any] = {
        "type": "object",
        "required": ["main"],
        "properties": {
            "main": {
                "type": "object",
                "properties": {"temp": {"type": "number"}},
            },
            "list": {"type": "array", "items": {"type": "integer"}},
        },
    }

    def test_matching_body_has_no_mismatches(self) -> None:
        checker = ResponseChecker(self.SCHEMA)
        assert checker.mismatches({"main": {"temp": 1.5}}, Redactor()) == []

    def test_mismatch_paths_are_json_paths(self) -> None:
        checker = ResponseChecker(self.SCHEMA)
        found = checker.mismatches({"main": {"temp": "warm"}, "list": [1, "x"]}, Redactor())
        paths = sorted(path for path, _ in found)
        assert paths == ["$.list[1]", "$.main.temp"]
        assert any("is not of type 'number'" in message for _, message in found)

    def test_missing_required_is_reported_at_the_parent(self) -> None:
        found = ResponseChecker(self.SCHEMA).mismatches({}, Redactor())
        assert found == [("$", "'main' is a required property")]

    def test_secrets_in_messages_are_redacted(self) -> None:
        schema = {"type": "object", "properties": {"token": {"type": "integer"}}}
        found = ResponseChecker(schema).mismatches(
            {"token": "tok-secret-value"}, Redactor(["tok-secret-value"])
        )
        assert found == [("$.token", "'[REDACTED]' is not of type 'integer'")]

    def test_long_messages_are_cut(self) -> None:
        schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
        ((_, message),) = ResponseChecker(schema).mismatches({"x": "y" * 1000}, Redactor())
        assert len(message) == 200
        assert message.endswith("...")

    def test_mismatches_are_capped(self) -> None:
        schema = {"type": "array", "items": {"type": "integer"}}
        found = ResponseChecker(schema).mismatches(["x"] * 50, Redactor())
        assert len(found) == MAX_MISMATCHES + 1
        assert found[-1] == ("$", "more mismatches not shown")


def test_json_path() -> None:
    assert json_path([]) == "$"
    assert json_path(["main", "temp"]) == "$.main.temp"
    assert json_path(["data", 3, "id"]) == "$.data[3].id"


class TestDecodeErrorBody:
    def test_json_error_body(self) -> None:
        assert decode_error_body(_reply(b'{"error": "x"}', "application/json")) == {"error": "x"}

    def test_invalid_json_error_body_is_text(self) -> None:
        assert decode_error_body(_reply(b"<html>502</html>", "application/json")) == (
            "<html>502</html>"
        )

    def test_invalid_json_with_an_unknown_charset(self) -> None:
        reply = _reply(b"<html>502</html>", "application/json; charset=nope")
        assert decode_error_body(reply) == "<html>502</html>"
