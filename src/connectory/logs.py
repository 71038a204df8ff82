"""Logging set-up for long-running processes (``connectory serve``, later workers).

Library code only creates loggers under ``connectory.*``; a process decides where their lines go.
The server's lines carry a timestamp, the level and the logger's name, so an operator can read
them without knowing which module wrote them. Secrets never reach these lines: the runtime
redacts before it logs (see :mod:`connectory.http.redaction`).
"""

from __future__ import annotations

import logging
import sys

#: Levels accepted by ``--log-level``, lowest first.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


def configure_process_logging(level: str) -> None:
    """Send every ``connectory.*`` logger's lines at *level* and above to stderr.

    Raises:
        ValueError: *level* is not one of :data:`LOG_LEVELS`.
    """
    name = level.lower()
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("connectory")
    logger.handlers[:] = [handler]
    logger.setLevel(name.upper())
    logger.propagate = False
    # Per-request lines are DEBUG: shown only when the operator asks for debug.
    logging.getLogger("connectory.runtime.requests").setLevel(logging.NOTSET)
