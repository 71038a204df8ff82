"""Logging set-up for long-running processes (``connectory serve``, workers).

Library code only creates loggers under ``connectory.*``; a process decides where their lines
go, with :func:`configure_process_logging`. Every record is one line: in ``text`` format a
timestamp, the level, the logger's name and the message; in ``json`` format one JSON object
per line (for log shippers). Either way the line carries the ids of what was being done when
it was logged: ``request_id`` (the API request, also its ``X-Request-Id``), ``connection_id``
and ``call_id`` (the call of the connection's call log), ``trace_id`` (with tracing on).
The HTTP server's own loggers (uvicorn's) are given the same handler, so one process writes
one format. Secrets never reach these lines: the runtime redacts before it logs (see
:mod:`connectory.http.redaction`).
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from connectory.observability.calls import current_call, current_response_ids

#: Levels accepted by ``--log-level``, lowest first.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: Formats accepted by ``--log-format``.
LOG_FORMATS = ("text", "json")

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

#: The ids a line may carry, in the order the text format shows them.
CONTEXT_FIELDS = ("request_id", "connection_id", "call_id", "trace_id")

#: Loggers of the HTTP server that ``serve`` runs, configured like Connectory's own.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class ContextFilter(logging.Filter):
    """Adds the current request, connection, call and trace ids to every record.

    Ids a record already carries (``extra={"call_id": ...}``) are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the ids of the request and call being served by this task."""
        ids = current_response_ids()
        call = current_call()
        if ids is not None and getattr(record, "request_id", None) is None:
            record.request_id = ids.request_id
        if call is not None:
            calls = getattr(call, "_calls", None)
            if getattr(record, "call_id", None) is None and call.id:
                record.call_id = call.id
            if getattr(record, "connection_id", None) is None and calls is not None:
                record.connection_id = calls.connection_id
            if getattr(record, "trace_id", None) is None and call.trace_id:
                record.trace_id = call.trace_id
        return True


class TextFormatter(logging.Formatter):
    """The classic line, then ``key=value`` for each id present; one line per event."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Format *record*; a traceback follows on its own lines, indented."""
        line = super().format(record)
        ids = " ".join(
            f"{name}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None)) is not None
        )
        if not ids:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} [{ids}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Format *record* as a single line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return orjson.dumps(data, default=str).decode()


def create_handler(log_format: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """A handler writing one line per record in *log_format*, with the ids filter.

    Raises:
        ValueError: *log_format* is not one of :data:`LOG_FORMATS`.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_process_logging(
    level: str, log_format: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Send every ``connectory.*`` logger's lines (and the HTTP server's) at *level* and above.

    Args:
        level: One of :data:`LOG_LEVELS`.
        log_format: ``text`` or ``json`` (one object per line).
        stream: Where lines go; stderr by default.

    Returns:
        The handler installed (tests read what it wrote).

    Raises:
        ValueError: *level* or *log_format* is not known.
    """
    name = level.lower()
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
    handler = create_handler(log_format.lower(), stream)
    for logger_name in ("connectory", *SERVER_LOGGERS):
        logger = logging.getLogger(logger_name)
        logger.handlers[:] = [handler]
        logger.setLevel(name.upper())
        logger.propagate = False
    # Per-request lines are DEBUG: shown only when the operator asks for debug.
    logging.getLogger("connectory.runtime.requests").setLevel(logging.NOTSET)
    return handler


def described_error(error: BaseException) -> str:
    """The error's type, no message (for a database error, the driver's and its code).

    The code: PostgreSQL's SQLSTATE, or SQLite's result code name. A database error's message
    is never logged: a driver quotes the statement's values in it (asyncpg's ``DETAIL: Key
    (token_hash)=(...) already exists``), which ``hide_parameters`` does not remove.
    """
    # Imported here: this module sets up every process's logging, and only errors need it.
    from sqlalchemy.exc import DBAPIError

    described = type(error).__name__
    if isinstance(error, DBAPIError) and error.orig is not None:
        described += f" ({type(error.orig).__name__}"
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if isinstance(sqlstate, str):
            described += f", SQLSTATE {sqlstate}"
        sqlite_code = getattr(error.orig, "sqlite_errorname", None)
        if isinstance(sqlite_code, str):
            described += f", {sqlite_code}"
        described += ")"
    return described


def involves_database(error: BaseException) -> bool:
    """Whether *error*, or an error it was raised from or while handling, is a database error.

    Such an error's traceback is logged without messages (:func:`traceback_without_messages`):
    a standard traceback prints every chained error's message, the driver's included.
    """
    from sqlalchemy.exc import DBAPIError  # only errors need it (see described_error)

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, DBAPIError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def traceback_without_messages(error: BaseException) -> str:
    """*error*'s traceback, its chained errors' too, each named by :func:`described_error` only."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{described_error(current)}\n{frames}".rstrip())
        current = current.__cause__ or current.__context__
    return "\n(which led to)\n".join(reversed(parts))
