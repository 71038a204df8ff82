"""The CLI's helpers: -p pairs, values files, exit codes, error reports, progress."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from connectory.cli.output import (
    EXIT_INVALID,
    EXIT_UNREACHABLE,
    EXIT_UPSTREAM,
    ProgressLine,
    exit_code_for,
    report_error,
    report_problems,
)
from connectory.cli.values import (
    MAX_VALUES_FILE_BYTES,
    parse_pairs,
    read_local_values,
    read_values_file,
    require_token,
)
from connectory.errors import (
    AuthError,
    CircuitOpen,
    ConnectoryError,
    CredentialsError,
    InputError,
    OperationNotFound,
    PaginationError,
    Problem,
    RateLimited,
    ResponseError,
    ResponseTooLarge,
    SpecError,
    TemplateError,
    TransportError,
    UpstreamError,
    UpstreamTimeout,
)


class TestParsePairs:
    def test_pairs(self) -> None:
        assert parse_pairs(["q=London", " units =metric", "expr=a=b", "empty="]) == {
            "q": "London",
            "units": "metric",
            "expr": "a=b",
            "empty": "",
        }

    @pytest.mark.parametrize("pair", ["novalue", "=value", "  =x"])
    def test_bad_pairs(self, pair: str) -> None:
        with pytest.raises(InputError, match="-p expects name=value"):
            parse_pairs([pair])


class TestReadValuesFile:
    def test_yaml_and_json(self, tmp_path: Path) -> None:
        yaml_file = tmp_path / "c.yaml"
        yaml_file.write_text("api_key: abc\nport: 8080\n", encoding="utf-8")
        json_file = tmp_path / "c.json"
        json_file.write_text('{"api_key": "abc", "port": 8080}', encoding="utf-8")
        expected = {"api_key": "abc", "port": 8080}
        assert read_values_file(yaml_file, "credentials") == expected
        assert read_values_file(json_file, "credentials") == expected

    def test_empty_file_is_no_values(self, tmp_path: Path) -> None:
        path = tmp_path / "c.yaml"
        path.write_text("", encoding="utf-8")
        assert read_values_file(path, "config") == {}

    def test_too_large(self, tmp_path: Path) -> None:
        path = tmp_path / "c.yaml"
        path.write_bytes(b"#" * (MAX_VALUES_FILE_BYTES + 1))
        with pytest.raises(CredentialsError, match="larger than 1 MiB"):
            read_values_file(path, "credentials")

    @pytest.mark.parametrize(
        "content",
        [
            b"a: [secret-value-1",
            b"\xff\xfe secret-value-1",
            b"{1: secret-value-1}",
            b"- secret-value-1",
        ],
    )
    def test_unusable_content_is_never_quoted(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "c.yaml"
        path.write_bytes(content)
        with pytest.raises(CredentialsError) as caught:
            read_values_file(path, "credentials")
        assert "secret-value-1" not in str(caught.value)
        assert str(path) in str(caught.value)

    def test_directory_is_not_a_file(self, tmp_path: Path) -> None:
        with pytest.raises(CredentialsError, match="not valid YAML or JSON"):
            read_values_file(tmp_path, "credentials")


def test_local_values_are_read_where_given(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text("api_key: k-1\n")
    config = tmp_path / "config.json"
    config.write_text('{"region": "eu"}')
    assert read_local_values(credentials, None, config) == {
        "credentials": {"api_key": "k-1"},
        "connector_parameters": None,
        "config": {"region": "eu"},
    }
    with pytest.raises(CredentialsError, match="connector parameters file"):
        read_local_values(connector_parameters=tmp_path / "missing.yaml")


def test_a_server_connection_needs_a_token() -> None:
    assert require_token("t-1") == "t-1"
    for missing in (None, ""):
        with pytest.raises(InputError, match="CONNECTORY_TOKEN"):
            require_token(missing)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SpecError([Problem("bad")]), EXIT_INVALID),
        (InputError("x"), EXIT_INVALID),
        (CredentialsError("x"), EXIT_INVALID),
        (OperationNotFound("x"), EXIT_INVALID),
        (TemplateError("x"), EXIT_INVALID),
        (AuthError("x", 401), EXIT_UPSTREAM),
        (UpstreamError("x", 500), EXIT_UPSTREAM),
        (ResponseError("x"), EXIT_UPSTREAM),
        (ResponseTooLarge("x"), EXIT_UPSTREAM),
        (PaginationError("x"), EXIT_UPSTREAM),
        (TransportError("x"), EXIT_UNREACHABLE),
        (UpstreamTimeout("x"), EXIT_UNREACHABLE),
        (RateLimited("x"), EXIT_UNREACHABLE),
        (CircuitOpen("x"), EXIT_UNREACHABLE),
    ],
)
def test_exit_codes(error: ConnectoryError, code: int) -> None:
    assert exit_code_for(error) == code


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, highlight=False, color_system=None), buffer


def test_report_error_escapes_markup() -> None:
    console, buffer = _console()
    report_error(console, InputError("parameter '[bold]x' is wrong"))
    assert buffer.getvalue() == "error: parameter '[bold]x' is wrong\n"


def test_report_problems_lists_errors_first_with_locations() -> None:
    console, buffer = _console()
    problems = [
        Problem("looks odd", "operations[1]", "c.yaml", 9, 3, severity="warning"),
        Problem("is required", "base_url", "c.yaml", 1, 1),
        Problem("unknown field", "", "c.yaml", 4),
    ]
    report_problems(console, SpecError(problems))
    lines = buffer.getvalue().splitlines()
    assert lines == [
        "c.yaml:1:1: error: base_url: is required",
        "c.yaml:4: error: unknown field",
        "c.yaml:9:3: warning: operations[1]: looks odd",
        "2 error(s), 1 warning(s)",
    ]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_line_in_a_log_prints_at_intervals_and_at_the_end() -> None:
    stream = _Stream(tty=False)
    progress = ProgressLine(stream, interval=3600)
    progress.update(1, 100)
    progress.update(2, 200)
    progress.finish(3, 250)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("1 page(s), 100 record(s)")
    assert lines[1].startswith("3 page(s), 250 record(s)")
    assert "\r" not in stream.getvalue()


def test_progress_line_on_a_terminal_rewrites_itself() -> None:
    stream = _Stream(tty=True)
    progress = ProgressLine(stream)
    progress.finish(1, 1000)
    assert stream.getvalue().startswith("\r\x1b[2K1 page(s), 1,000 record(s)")
    assert stream.getvalue().endswith("\n")
