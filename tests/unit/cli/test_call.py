"""connectory call, against the test API served on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from connectory.cli.output import EXIT_INVALID, EXIT_UNREACHABLE, EXIT_UPSTREAM

from .conftest import API_KEY, TESTAPI_CONNECTOR, Invoke, assert_no_traceback

CONNECTOR = str(TESTAPI_CONNECTOR)


def _call(invoke: Invoke, api_url: str, credentials: Path, *args: str) -> Result:
    return invoke(
        "call", CONNECTOR, *args, "--credentials", str(credentials), "--base-url", api_url
    )


@pytest.fixture
def call_small(
    invoke: Invoke, api_url: str, small_connector: Path, credentials_file: Path
) -> Callable[..., Result]:
    """``connectory call`` of the small connector against the test API."""

    def run(*args: str, credentials: Path | None = credentials_file) -> Result:
        options = ["--credentials", str(credentials)] if credentials is not None else []
        return invoke("call", str(small_connector), *args, *options, "--base-url", api_url)

    return run


class TestSingleCalls:
    def test_prints_the_body_as_json(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "get_item", "-p", "id=3")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["id"] == 3
        assert result.stderr == ""

    def test_parameters_are_coerced_and_encoded(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(
            invoke,
            api_url,
            credentials_file,
            "echo_query",
            "-p",
            "q=a b",
            "-p",
            "tags=x,y",
            "-p",
            "active=yes",
            "--param",
            "limit=5",
        )
        assert result.exit_code == 0, result.output
        echo = json.loads(result.stdout)
        assert echo["query"] == {
            "q": ["a b"],
            "tags": ["x", "y"],
            "active": ["true"],
            "limit": ["5"],
            "sort": ["asc"],
        }
        assert echo["headers"]["x-api-key"] == f"Token {API_KEY}"
        assert echo["headers"]["x-tenant"] == "acme"

    def test_path_values_keep_their_slash_in_the_segment(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(
            invoke, api_url, credentials_file, "echo_path", "-p", "folder=a/b", "-p", "name=c d"
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["raw_path"] == "/echo/folders/a%2Fb/files/c%20d"

    def test_include_adds_status_headers_and_the_redacted_request(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "get_item", "-p", "id=1", "--include")
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["status_code"] == 200
        assert payload["body"]["id"] == 1
        assert payload["headers"]["content-type"] == "application/json"
        assert payload["request"]["url"] == f"{api_url}/items/1"
        assert payload["request"]["headers"]["X-API-Key"] == "[REDACTED]"
        assert API_KEY not in result.output

    def test_schema_mismatch_is_a_warning_on_stderr(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "echo_schema_mismatch")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["method"] == "GET"
        assert "warning" in result.stderr
        assert "$.method" in result.stderr

    def test_strict_schema_mismatch_fails(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "echo_schema_mismatch", "--strict")
        assert result.exit_code == EXIT_UPSTREAM
        assert_no_traceback(result)
        assert "$.method" in result.stderr


class TestVerbose:
    def test_v_logs_each_request_redacted(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "list_cursor_items", "--all-pages", "-v")
        assert result.exit_code == 0, result.output
        requests = [line for line in result.stderr.splitlines() if "GET http" in line]
        assert len(requests) == 3  # 250 records, 100 per page
        assert all("-> 200" in line for line in requests)
        assert API_KEY not in result.stderr

    def test_without_v_no_request_is_logged(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "get_item", "-p", "id=3")
        assert result.exit_code == 0, result.output
        assert "GET http" not in result.stderr


def test_version(invoke: Invoke) -> None:
    from connectory import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"connectory {__version__}"


class TestStreaming:
    def test_all_pages_streams_json_lines_and_progress_on_stderr(
        self, invoke: Invoke, api_url: str, credentials_file: Path
    ) -> None:
        result = _call(invoke, api_url, credentials_file, "list_cursor_items", "--all-pages")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert len(lines) == 250
        ids = [json.loads(line)["id"] for line in lines]
        assert ids == list(range(1, 251))
        assert "3 page(s), 250 record(s)" in result.stderr
        assert "records/s" in result.stderr

    def test_max_pages(self, invoke: Invoke, api_url: str, credentials_file: Path) -> None:
        result = _call(invoke, api_url, credentials_file, "list_offset_items", "--max-pages", "2")
        assert result.exit_code == 0, result.output
        assert len(result.stdout.splitlines()) == 200
        assert "2 page(s), 200 record(s)" in result.stderr

    def test_pagination_loop_stops_with_an_error(self, call_small: Callable[..., Result]) -> None:
        result = call_small("bad_repeat_cursor", "--all-pages")
        assert result.exit_code == EXIT_UPSTREAM
        assert_no_traceback(result)
        assert "came back again" in result.stderr

    def test_foreign_next_url_is_refused(self, call_small: Callable[..., Result]) -> None:
        result = call_small("bad_foreign_next", "--all-pages")
        assert result.exit_code == EXIT_UPSTREAM
        assert "another host (other.invalid)" in result.stderr


class TestErrors:
    def test_unknown_operation(self, call_small: Callable[..., Result]) -> None:
        result = call_small("get_itme")
        assert result.exit_code == EXIT_INVALID
        assert_no_traceback(result)
        assert "did you mean 'get_item'" in result.stderr
        assert result.stdout == ""

    def test_invalid_parameter(self, call_small: Callable[..., Result]) -> None:
        result = call_small("get_item", "-p", "id=abc")
        assert result.exit_code == EXIT_INVALID
        assert "parameter 'id' must be an integer" in result.stderr

    def test_pair_without_equals(self, call_small: Callable[..., Result]) -> None:
        result = call_small("get_item", "-p", "id")
        assert result.exit_code == EXIT_INVALID
        assert "-p expects name=value" in result.stderr

    def test_missing_credentials(self, call_small: Callable[..., Result]) -> None:
        result = call_small("get_item", "-p", "id=1", credentials=None)
        assert result.exit_code == EXIT_INVALID
        assert_no_traceback(result)
        assert "credential 'api_key' (API Key) is required" in result.stderr

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            ("creds.yaml", "api_key: [unclosed sk-hidden-123\n", "is not valid YAML or JSON"),
            ("creds.json", '{"api_key": "sk-hidden-123"', "is not valid YAML or JSON"),
            ("creds.yaml", "- sk-hidden-123\n", "must be a mapping"),
            ("creds.yaml", "api_kye: sk-hidden-123\n", "did you mean 'api_key'"),
        ],
    )
    def test_bad_credentials_file(
        self,
        call_small: Callable[..., Result],
        tmp_path: Path,
        name: str,
        content: str,
        expected: str,
    ) -> None:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        result = call_small("get_item", "-p", "id=1", credentials=path)
        assert result.exit_code == EXIT_INVALID
        assert_no_traceback(result)
        assert expected in result.stderr
        assert "sk-hidden-123" not in result.output

    def test_credentials_file_that_does_not_exist(
        self, call_small: Callable[..., Result], tmp_path: Path
    ) -> None:
        result = call_small("get_item", "-p", "id=1", credentials=tmp_path / "missing.yaml")
        assert result.exit_code == EXIT_INVALID
        assert "does not exist" in result.stderr

    def test_rejected_credentials(self, call_small: Callable[..., Result], tmp_path: Path) -> None:
        path = tmp_path / "wrong.yaml"
        path.write_text("api_key: wrong-key-12345\n", encoding="utf-8")
        result = call_small("list_protected_items", "--all-pages", credentials=path)
        assert result.exit_code == EXIT_UPSTREAM
        assert_no_traceback(result)
        assert "401" in result.stderr
        assert "wrong-key-12345" not in result.output

    @pytest.mark.parametrize("status", ["404", "500"])
    def test_error_status(self, call_small: Callable[..., Result], status: str) -> None:
        result = call_small("get_status", "-p", f"code={status}")
        assert result.exit_code == EXIT_UPSTREAM
        assert_no_traceback(result)
        assert f"answered {status}" in result.stderr

    def test_invalid_json(self, call_small: Callable[..., Result]) -> None:
        result = call_small("get_invalid_json")
        assert result.exit_code == EXIT_UPSTREAM
        assert "not valid JSON" in result.stderr

    def test_unreachable_host(
        self, invoke: Invoke, small_connector: Path, credentials_file: Path
    ) -> None:
        # The small connector's own base_url is a closed port on loopback.
        result = invoke(
            "call",
            str(small_connector),
            "get_item",
            "-p",
            "id=1",
            "--credentials",
            str(credentials_file),
        )
        assert result.exit_code == EXIT_UNREACHABLE
        assert_no_traceback(result)
        assert re.search("could not (reach|be reached)", result.stderr)

    @pytest.mark.parametrize("host", ["0177.0.0.1", "127.000.000.001", "0x7f.1", "2130706433"])
    def test_a_non_canonical_ipv4_base_url_exits_1(
        self, invoke: Invoke, small_connector: Path, credentials_file: Path, host: str
    ) -> None:
        # --base-url is not checked like the connector file is: the run-time check refuses it.
        result = invoke(
            "call",
            str(small_connector),
            "get_item",
            "-p",
            "id=1",
            "--credentials",
            str(credentials_file),
            "--base-url",
            f"http://{host}:1",
        )
        assert result.exit_code == EXIT_INVALID
        assert_no_traceback(result)
        assert f"the host '{host}' is the IPv4 address 127.0.0.1" in result.stderr

    def test_a_non_canonical_ipv4_base_url_in_the_file_exits_1(
        self, invoke: Invoke, small_connector: Path, credentials_file: Path, tmp_path: Path
    ) -> None:
        connector = tmp_path / "c.yaml"
        text = small_connector.read_text(encoding="utf-8")
        connector.write_text(text.replace("http://127.0.0.1:1", "http://0177.0.0.1:1"))
        credentials = ["--credentials", str(credentials_file)]
        for command in (["validate", str(connector)], ["call", str(connector), "get_item"]):
            result = invoke(*command, *(credentials if command[0] == "call" else []))
            assert result.exit_code == EXIT_INVALID, command
            assert_no_traceback(result)
            assert "c.yaml:2:11" in result.output
            assert "write it as 127.0.0.1" in result.output

    def test_a_parameter_from_bytes_that_are_not_utf8_exits_1(
        self, call_small: Callable[..., Result]
    ) -> None:
        # Python reads such argv bytes as lone surrogates ("\udcff"); they cannot be sent.
        result = call_small("get_item", "-p", "id=\udcff")
        assert result.exit_code == EXIT_INVALID
        assert_no_traceback(result)
        assert "parameter 'id' is not valid Unicode text" in result.stderr

    def test_invalid_connector(self, invoke: Invoke, tmp_path: Path) -> None:
        connector = tmp_path / "c.yaml"
        connector.write_text("name: X\noperations: 5\n", encoding="utf-8")
        result = invoke("call", str(connector), "ping")
        assert result.exit_code == EXIT_INVALID
        assert_no_traceback(result)
        assert "base_url" in result.stderr


PIN_CONNECTOR = """\
name: Pin
base_url: http://127.0.0.1:1
auth:
  auth_type: api_key
  credential_schema:
    api_key: {type: password, required: true}
    pin: {type: password, required: true}
  header_name: X-API-Key
  key_prefix: "Token "
headers:
  X-Pin: "{{ credentials.pin }}"
resilience: {max_retries: 0}
operations:
  - operation: folder
    path: "/echo/folders/{{ credentials.pin }}/files"
"""


class TestShortSecrets:
    """A PIN is redacted by where it goes in ``-vv --include`` output and the request log."""

    PIN = "~7!"

    def test_the_request_as_sent_and_the_logs_hide_it(
        self, invoke: Invoke, api_url: str, tmp_path: Path
    ) -> None:
        connector = tmp_path / "pin.yaml"
        connector.write_text(PIN_CONNECTOR, encoding="utf-8")
        credentials = tmp_path / "credentials.yaml"
        credentials.write_text(f"api_key: {API_KEY}\npin: '{self.PIN}'\n", encoding="utf-8")
        result = invoke(
            "call", str(connector), "folder", "--credentials", str(credentials),
            "--base-url", api_url, "-vv", "--include",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        # It really went out: the echo (the caller's own data) shows it came back.
        assert shown["body"]["headers"]["x-pin"] == self.PIN
        request = shown["request"]
        assert request["headers"]["X-Pin"] == "[REDACTED]"
        assert request["url"].endswith("/echo/folders/[REDACTED]/files")
        assert self.PIN not in json.dumps(request)
        assert "/echo/folders/[REDACTED]/files" in result.stderr  # the request was logged
        assert self.PIN not in result.stderr
