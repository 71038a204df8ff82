"""Process logging: `connectory serve --log-level` reaches Connectory's own loggers."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from connectory.cli.app import app
from connectory.logs import configure_process_logging


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    logger = logging.getLogger("connectory")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved


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
