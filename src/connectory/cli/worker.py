"""``connectory worker``: run background work (polls, intake, refreshes, deliveries).

Any number of workers may run against one PostgreSQL database; each schedule fires once per
interval across all of them. On SQLite (the embedded default) ``connectory serve`` runs the
worker itself; a separate worker process is for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer


def worker(
    # Not options.DatabaseUrl: the worker needs PostgreSQL, which its help says.
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="CONNECTORY_DATABASE_URL",
            help="postgresql://user@host/db (the same database as the API processes).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Tasks run at once (default CONNECTORY_WORKER_CONCURRENCY).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run a worker until SIGINT or SIGTERM; it reconnects when the database restarts."""
    from connectory.logs import LOG_LEVELS, configure_process_logging

    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r} is not a log level; use one of {', '.join(LOG_LEVELS)}",
            param_hint="--log-level",
        )
    configure_process_logging(log_level)
    _engine_logging(log_level)
    from connectory.cli.output import report_error, stderr_console
    from connectory.errors import ConnectoryError
    from connectory.settings import Settings
    from connectory.worker.engine import uses_postgres

    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)  # type: ignore[arg-type]  # validated by pydantic
    if not uses_postgres(settings):
        stderr_console().print(
            "[bold red]error:[/] a separate worker needs PostgreSQL (CONNECTORY_DATABASE_URL="
            "postgresql://...); on SQLite, `connectory serve` runs the worker in process"
        )
        raise typer.Exit(2)
    try:
        asyncio.run(_run(settings, concurrency or settings.worker_concurrency))
    except ConnectoryError as error:
        report_error(stderr_console(), error)
        raise typer.Exit(1) from None


def _engine_logging(level: str) -> None:
    """The task engine's and the driver's warnings, in the same format as Connectory's."""
    import logging

    ours = logging.getLogger("connectory")
    for name in ("procrastinate", "psycopg"):
        logger = logging.getLogger(name)
        logger.handlers[:] = list(ours.handlers)
        logger.setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)
        logger.propagate = False


async def _run(settings: object, concurrency: int) -> None:
    from connectory.settings import Settings
    from connectory.worker import Worker, build_context

    assert isinstance(settings, Settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_context(settings) as context:
        # The same collector tuning as `connectory serve`: a worker claiming batches of
        # deliveries keeps thousands of young objects alive and, without it, full collections
        # of its start-up heap pause every task in flight.
        from connectory.startup import settle_heap_for_serving

        settle_heap_for_serving(settings.gc_young_threshold)
        await Worker(context, concurrency=concurrency).run(stop)
