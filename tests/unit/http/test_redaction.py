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


def test_short_values_are_not_searched_for_in_free_text() -> None:
    redactor = Redactor(["abc", "", None])  # type: ignore[list-item]
    assert redactor.redact("abc abc") == "abc abc"
    assert redactor.redact("") == ""


class TestShortSecrets:
    """A PIN is never skipped: it is redacted wherever a whole value is it."""

    PIN = "42"

    def test_a_whole_text_that_is_the_secret(self) -> None:
        redactor = Redactor([self.PIN])
        assert redactor.redact(self.PIN) == REDACTED
        assert redactor.redact("page 42 of 99") == "page 42 of 99"

    def test_header_values_query_values_and_path_segments(self) -> None:
        redactor = Redactor([self.PIN, "a b"])
        assert redactor.redact_headers({"X-Anything": "42", "X-Page": "420"}) == {
            "X-Anything": REDACTED,
            "X-Page": "420",
        }
        assert redactor.redact_url("https://h.example/v1/42/items?pin=42&page=420&q=a+b") == (
            f"https://h.example/v1/{REDACTED}/items?pin={REDACTED}&page=420&q={REDACTED}"
        )
        assert redactor.redact_url("https://h.example/x/a%20b") == f"https://h.example/x/{REDACTED}"
        assert redactor.is_secret("a%20b") and not redactor.is_secret("42 ")

    def test_decoded_data_whole_strings_only(self) -> None:
        redactor = Redactor([self.PIN])
        data = {"pin": "42", "note": "42 apples", "count": 42, "42": ["42", "x"]}
        assert redactor.redact_data(data) == {
            "pin": REDACTED,
            "note": "42 apples",
            "count": 42,
            REDACTED: [REDACTED, "x"],
        }

    def test_redirect_style_check_holds_secret(self) -> None:
        redactor = Redactor([self.PIN, "long-secret"])
        assert redactor.holds_secret("42") and redactor.holds_secret("a long-secret b")
        assert not redactor.holds_secret("a 42 b")
        assert not redactor.contains_secret("42")  # only searchable secrets


class TestRedactionByLocation:
    def test_registered_fields_are_blanked_in_data_whatever_they_hold(self) -> None:
        redactor = Redactor(sensitive_names=["X-Pin"])
        echo = {
            "headers": {"x-pin": "7", "accept": "*/*"},
            "query": {"X-PIN": ["7", "8"]},
            "body": {"x-pin": None, "nested": {"X-Pin": {"deep": 1}}},
        }
        assert redactor.redact_data(echo) == {
            "headers": {"x-pin": REDACTED, "accept": "*/*"},
            "query": {"X-PIN": [REDACTED, REDACTED]},
            "body": {"x-pin": None, "nested": {"X-Pin": REDACTED}},
        }

    def test_conventional_names_are_not_blanked_in_data(self) -> None:
        # Records often have "key" or "token" fields that are data, not this connection's.
        redactor = Redactor(["s3cr3t-value"])
        data = {"key": "PROJ-1", "token": "next-page", "api_key": "abc"}
        assert redactor.redact_data(data) == data

    def test_registered_names_count_for_headers_and_query(self) -> None:
        redactor = Redactor(sensitive_names=["pin"])
        assert redactor.redact_headers({"PIN": "1"}) == {"PIN": REDACTED}
        assert redactor.redact_url("https://h/x?Pin=1&a=2") == f"https://h/x?Pin={REDACTED}&a=2"
        assert redactor.redact_url("https://h/x?p%69n=1") == f"https://h/x?p%69n={REDACTED}"


class TestRedactBody:
    def test_json_fields_by_name_and_whole_value(self) -> None:
        redactor = Redactor(["9"], sensitive_names=["pin"])
        body = b'{"pin": "1", "code": "9", "text": "9 lives"}'
        assert redactor.redact_body(body, "application/json; charset=utf-8", 2000) == (
            f'{{"pin":"{REDACTED}","code":"{REDACTED}","text":"9 lives"}}'
        )

    def test_json_without_secrets_keeps_its_formatting(self) -> None:
        body = b'{\n  "a": 1\n}'
        assert Redactor(["9"]).redact_body(body, "application/json", 2000) == '{\n  "a": 1\n}'

    def test_form_fields_by_name_and_whole_value(self) -> None:
        redactor = Redactor(["9"], sensitive_names=["pin"])
        body = b"user=bob&pin=1&code=9&password=x&n=99"
        assert redactor.redact_body(body, "application/x-www-form-urlencoded", 2000) == (
            f"user=bob&pin={REDACTED}&code={REDACTED}&password={REDACTED}&n=99"
        )

    def test_other_bodies_as_text_and_cut_after_redaction(self) -> None:
        redactor = Redactor([SECRET])
        text = ("x" * 10 + SECRET).encode()
        assert redactor.redact_body(text, "text/plain", 15) == "x" * 10 + REDACTED[:5]
        assert redactor.redact_body(b'{"broken', "application/json", 100) == '{"broken'


class TestNeedsRedaction:
    @pytest.mark.parametrize(
        "chunk",
        [
            b'{"a": "long-secret-1"}',
            b'{"a": "x long-secret-1 y"}',
            b'{"a": "7"}',
            b'{"X-PIN" : 1}',
            b'{"a": "quo\\"ted-secret"}',
        ],
        ids=["whole", "inside", "short-whole", "name-any-case", "json-escaped"],
    )
    def test_detects(self, chunk: bytes) -> None:
        redactor = Redactor(["long-secret-1", "7", 'quo"ted-secret'], sensitive_names=["x-pin"])
        assert redactor.needs_redaction(chunk)

    def test_clean_chunks_and_an_empty_redactor(self) -> None:
        redactor = Redactor(["long-secret-1", "7"], sensitive_names=["x-pin"])
        assert not redactor.needs_redaction(b'{"a": 77, "b": "x-pins", "c": "17"}')
        assert not Redactor().needs_redaction(b'{"a": "b"}')

    def test_learns_later_secrets(self) -> None:
        redactor = Redactor()
        assert not redactor.needs_redaction(b'{"a": "tok"}')
        redactor.add("tok")
        assert redactor.needs_redaction(b'{"a": "tok"}')


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

    def test_one_search_over_all_values_replaces_exactly_what_each_search_would(self) -> None:
        # A multi-line secret (a PEM key) whose halves end and start two values: the joined
        # text matches, nothing may be replaced in either value; a value holding it is.
        redactor = Redactor(["line-one\nline-two", "k3y-9876"])
        headers = {"X-A": "line-one", "X-B": "line-two", "X-C": "id k3y-9876", "X-D": ""}
        assert redactor.redact_headers(headers) == {
            "X-A": "line-one",
            "X-B": "line-two",
            "X-C": f"id {REDACTED}",
            "X-D": "",
        }
        assert redactor.redact_headers({"X-A": "line-one", "X-B": "x"}) == {
            "X-A": "line-one",
            "X-B": "x",
        }
        short = Redactor(["ab"])  # too short to search for: replaced as a whole value only
        assert short.redact_headers({"X-A": "ab", "X-B": "cab"}) == {
            "X-A": REDACTED,
            "X-B": "cab",
        }

    def test_remembered_request_headers_follow_what_the_redactor_learns(self) -> None:
        redactor = Redactor(["sess-9876"])
        headers = {"X-Request-Ref": "abc", "X-Trace": "tok-12345", "Accept": "*/*"}
        first = redactor.redact_request_headers(headers)
        assert first == redactor.redact_headers(headers)
        assert first == {"X-Request-Ref": "abc", "X-Trace": "tok-12345", "Accept": "*/*"}
        first["Accept"] = "changed by the caller"  # each caller gets its own copy
        assert redactor.redact_request_headers(headers)["Accept"] == "*/*"
        # A secret learned later (a refreshed token) and a name registered later both count.
        redactor.add("tok-12345")
        assert redactor.redact_request_headers(headers)["X-Trace"] == REDACTED
        redactor.add_sensitive_name("X-Request-Ref")
        assert redactor.redact_request_headers(headers) == {
            "X-Request-Ref": REDACTED,
            "X-Trace": REDACTED,
            "Accept": "*/*",
        }

    def test_header_lines_are_the_redacted_headers_and_follow_what_the_redactor_learns(
        self,
    ) -> None:
        redactor = Redactor(["sess-9876", "ab"])
        items = (
            ("Accept", "*/*"),
            ("X-Ref", "ab"),
            ("X-Echo", "id sess-9876"),
            ("Authorization", "Basic xyz"),
            ("X-Trace", "tok-12345"),
            ("accept", "text/plain"),  # another name than "Accept": its own line
            ("X-Ref", "cd"),  # a repeated name: the last value, at the first place
        )
        expected = "".join(
            f"\n{name}: {value}" for name, value in redactor.redact_headers(dict(items)).items()
        )
        assert redactor.header_lines(items) == expected
        assert redactor.header_lines(items) == expected  # remembered: the same answer
        assert expected == (
            "\nAccept: */*\nX-Ref: cd\nX-Echo: id [REDACTED]\nAuthorization: [REDACTED]"
            "\nX-Trace: tok-12345\naccept: text/plain"
        )
        # A reply's next headers: one value new, the others' lines reused.
        later = (("date", "Sun, 06 Dec 2026 03:00:01 GMT"), ("X-Ref", "ab"))
        assert redactor.header_lines(later) == (
            "\ndate: Sun, 06 Dec 2026 03:00:01 GMT\nX-Ref: [REDACTED]"
        )
        # A secret learned later (a refreshed token) and a name registered later both count,
        # for a set seen before and for a header seen before in another set.
        redactor.add("tok-12345")
        redactor.add_sensitive_name("date")
        assert "X-Trace: [REDACTED]" in redactor.header_lines(items)
        assert redactor.header_lines((("X-Trace", "tok-12345"),)) == "\nX-Trace: [REDACTED]"
        assert redactor.header_lines(later) == "\ndate: [REDACTED]\nX-Ref: [REDACTED]"

    def test_reply_header_sets_are_not_remembered_whole(self) -> None:
        """A reply's headers change on every call (date, content-length): remembering each
        set would fill every connection's redactor with sets never seen again."""
        redactor = Redactor(["tok-12345"])
        for second in range(100):
            reply = (("date", f"Sun, 06 Dec 2026 03:00:{second:02} GMT"), ("X-Echo", "tok-12345"))
            assert redactor.header_lines(reply, remember_set=False) == (
                f"\ndate: Sun, 06 Dec 2026 03:00:{second:02} GMT\nX-Echo: [REDACTED]"
            )
        assert len(redactor._derived.line_sets) == 0
        assert redactor.header_lines((("X-Echo", "tok-12345"),)) == "\nX-Echo: [REDACTED]"
        assert len(redactor._derived.line_sets) == 1  # a request's set is remembered


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


@pytest.mark.parametrize(
    "body",
    [
        b'{"echo": "sk_live\\/Ab+cd9XyZ"}',  # PHP's json_encode escapes "/"
        b'{"echo": "\\u0073k_live/Ab+cd9XyZ"}',  # any character may be a \u escape
    ],
)
def test_a_secret_spelled_with_json_escapes_is_redacted_in_an_excerpt(body: bytes) -> None:
    redactor = Redactor(["sk_live/Ab+cd9XyZ"])
    excerpt = redactor.excerpt(body, "application/json", 2048)
    assert "Ab+cd9XyZ" not in excerpt
    assert REDACTED in excerpt
