"""Process logging: `serve --log-level/--log-format` reach every Connectory logger, with ids."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from connectory.cli.app import app
from connectory.logs import SERVER_LOGGERS, configure_process_logging
from connectory.observability import (
    ConnectionCalls,
    MemoryRecorder,
    ResponseIds,
    Telemetry,
    serving_request,
)


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("connectory", *SERVER_LOGGERS)]
    saved = [(list(lg.handlers), lg.propagate, lg.level) for lg in loggers]
    yield
    for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
        logger.handlers[:], logger.propagate, logger.level = handlers, propagate, level


def test_lines_carry_time_level_and_logger(capsys: pytest.CaptureFixture[str]) -> None:
    configure_process_logging("debug")
    logging.getLogger("connectory.services.demo").debug("a debug line")
    logging.getLogger("connectory.runtime.requests").debug("GET http://x -> 200")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} DEBUG +connectory\.services\.demo: ", lines[0]
    )


def test_the_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    configure_process_logging("warning")
    logging.getLogger("connectory.x").info("hidden")
    logging.getLogger("connectory.x").warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err and "WARNING" in err and "shown" in err


def test_serve_refuses_an_unknown_level() -> None:
    result = CliRunner().invoke(app, ["serve", "--log-level", "loud"])
    assert result.exit_code == 2
    assert "not a log level" in result.output
    assert "Traceback" not in result.output


def test_json_lines_carry_the_request_connection_and_call_ids() -> None:
    stream = io.StringIO()
    configure_process_logging("info", "json", stream=stream)
    calls = ConnectionCalls(Telemetry(recorder=MemoryRecorder()), "conn-7")
    with serving_request(ResponseIds("req-42")), calls.track("operation", "get_item") as call:
        logging.getLogger("connectory.runtime").warning("a line\nwith a newline")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # one line per event, tracebacks included
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "a line\nwith a newline"
    assert (first["level"], first["logger"]) == ("warning", "connectory.runtime")
    assert first["request_id"] == "req-42"
    assert first["connection_id"] == "conn-7"
    assert first["call_id"] == call.id
    assert "request_id" not in second and "ValueError: boom" in second["exception"]


def test_text_lines_end_with_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_process_logging("info")
    with serving_request(ResponseIds("req-1")):
        logging.getLogger("connectory.api").info("served")
    assert capsys.readouterr().err.rstrip().endswith("connectory.api: served [request_id=req-1]")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        configure_process_logging("info", "xml")
    result = CliRunner().invoke(app, ["serve", "--log-format", "xml"])
    assert result.exit_code == 2
    assert "not a log format" in result.output
