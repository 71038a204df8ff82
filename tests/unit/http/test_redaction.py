"""Keeping secrets out of text, URLs and headers (http/redaction.py)."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote, quote_plus

import pytest

from connectory.http.redaction import REDACTED, RedactingLogFilter, Redactor, is_sensitive_name

SECRET = "s3cr3t/key+with=odd&chars"


def test_plain_occurrences_are_replaced() -> None:
    redactor = Redactor([SECRET])
    assert redactor.redact(f"key {SECRET} and again {SECRET}.") == (
        f"key {REDACTED} and again {REDACTED}."
    )


@pytest.mark.parametrize(
    "form",
    [
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
    ],
    ids=["percent", "plus", "base64", "base64url"],
)
def test_encoded_forms_are_replaced(form: str) -> None:
    assert form != SECRET
    redacted = Redactor([SECRET]).redact(f"before {form} after")
    assert form.rstrip("=") not in redacted
    assert redacted.startswith(f"before {REDACTED}")


def test_longest_secret_is_replaced_first() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.redact("xx abcdefgh yy abcd") == f"xx {REDACTED} yy {REDACTED}"
    # The other order of adding gives the same result.
    later = Redactor(["abcd"])
    later.add("abcdefgh")
    assert later.redact("abcdefgh") == REDACTED


def test_regex_characters_in_secrets_are_literal() -> None:
    redactor = Redactor(["a.b*c(d)"])
    assert redactor.redact("a.b*c(d) aXbbc(d)") == f"{REDACTED} aXbbc(d)"


def test_short_and_non_string_values_are_not_treated_as_secrets() -> None:
    redactor = Redactor(["abc", "", None])  # type: ignore[list-item]
    assert redactor.redact("abc abc") == "abc abc"


def test_secrets_learned_later_are_redacted() -> None:
    redactor = Redactor()
    assert redactor.redact("token tok-123") == "token tok-123"
    redactor.add("tok-123")
    assert redactor.redact("token tok-123") == f"token {REDACTED}"


def test_empty_text() -> None:
    assert Redactor(["abcd"]).redact("") == ""


class TestRedactUrl:
    def test_sensitive_query_names_are_redacted_whatever_the_value(self) -> None:
        redactor = Redactor()
        url = "https://a.example/x?q=London&api_key=zz&access_token=t&page=2&client_secret=s"
        assert redactor.redact_url(url) == (
            f"https://a.example/x?q=London&api_key={REDACTED}&access_token={REDACTED}"
            f"&page=2&client_secret={REDACTED}"
        )

    def test_connector_specific_names_can_be_declared_sensitive(self) -> None:
        redactor = Redactor(sensitive_names=["appid"])
        assert redactor.redact_url("https://a/x?appid=1&q=2") == f"https://a/x?appid={REDACTED}&q=2"
        redactor.add_sensitive_name("Code")
        assert redactor.redact_url("https://a/x?code=1") == f"https://a/x?code={REDACTED}"

    def test_known_secret_values_are_redacted_anywhere_in_the_url(self) -> None:
        redactor = Redactor(["bot-tok-42"])
        url = "https://a.example/bot-tok-42/send?text=bot-tok-42"
        assert redactor.redact_url(url) == f"https://a.example/{REDACTED}/send?text={REDACTED}"

    def test_url_encoded_secret_in_the_query_is_redacted(self) -> None:
        redactor = Redactor([SECRET])
        url = f"https://a/x?filter={quote_plus(SECRET)}"
        assert redactor.redact_url(url) == f"https://a/x?filter={REDACTED}"

    def test_url_without_query_and_flags_without_value(self) -> None:
        redactor = Redactor()
        assert redactor.redact_url("https://a/x") == "https://a/x"
        assert redactor.redact_url("https://a/x?token&b=1") == "https://a/x?token&b=1"


class TestRedactHeaders:
    def test_sensitive_header_names_and_secret_values(self) -> None:
        redactor = Redactor(["sess-9876"], sensitive_names=["X-Custom-Key"])
        headers = {
            "Authorization": "Bearer abc",
            "Cookie": "a=b",
            "Set-Cookie": "id=1",
            "X-API-Key": "k",
            "x-custom-key": "v",
            "X-Echo": "session sess-9876 used",
            "Content-Type": "application/json",
        }
        assert redactor.redact_headers(headers) == {
            "Authorization": REDACTED,
            "Cookie": REDACTED,
            "Set-Cookie": REDACTED,
            "X-API-Key": REDACTED,
            "x-custom-key": REDACTED,
            "X-Echo": f"session {REDACTED} used",
            "Content-Type": "application/json",
        }


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apikey",
        "X-Api-Key",
        "access_token",
        "refresh-token",
        "client_secret",
        "password",
        "X-Auth-Token",
        "session",
        "signature",
        "Proxy-Authorization",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize("name", ["q", "page", "limit", "monkey", "tokenizer", "author", "Accept"])
def test_ordinary_names(name: str) -> None:
    assert not is_sensitive_name(name)


class TestRedactingLogFilter:
    def _record(self, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("httpx", logging.INFO, __file__, 1, msg, args, None)

    def test_urls_and_secret_values_in_the_formatted_message_are_redacted(self) -> None:
        redactor = Redactor(["val-12345"], sensitive_names=["appid"])
        record = self._record(
            'HTTP Request: %s %s "%s"', "GET", "https://a.example/x?appid=zz&q=1", "val-12345"
        )
        assert RedactingLogFilter(redactor).filter(record) is True
        assert record.getMessage() == (
            f'HTTP Request: GET https://a.example/x?appid={REDACTED}&q=1 "{REDACTED}"'
        )

    def test_clean_records_are_left_untouched(self) -> None:
        record = self._record("HTTP Request: %s %s", "GET", "https://a.example/x?q=1")
        assert RedactingLogFilter(Redactor(["val-12345"])).filter(record) is True
        assert record.msg == "HTTP Request: %s %s"
        assert record.args == ("GET", "https://a.example/x?q=1")
