"""``connectory serve``: run the management API (and, later, the web builder)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    # Not options.DatabaseUrl: the help names what the server accepts and its own default.
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="CONNECTORY_DATABASE_URL",
            help="sqlite:///path or postgresql://user@host/db (default: ./var/connectory.db).",
        ),
    ] = None,
    examples: Annotated[
        Path | None,
        typer.Option(help="Load these connectors into an empty catalogue, published as 1.0.0."),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option(
            help="debug, info, warning, error or critical: Connectory's own loggers and the "
            "HTTP server's, with timestamps and levels, on stderr."
        ),
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            help="text, or json: one JSON object per line (time, level, logger, message, "
            "request_id, connection_id, call_id, trace_id)."
        ),
    ] = "text",
) -> None:
    """Run the server.

    On an empty database it creates the first Platform Admin and prints its API token once:
    keep it, it is not shown again.
    """
    from connectory.logs import LOG_FORMATS, LOG_LEVELS, configure_process_logging

    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r} is not a log level; use one of {', '.join(LOG_LEVELS)}",
            param_hint="--log-level",
        )
    if log_format.lower() not in LOG_FORMATS:
        raise typer.BadParameter(
            f"{log_format!r} is not a log format; use one of {', '.join(LOG_FORMATS)}",
            param_hint="--log-format",
        )
    configure_process_logging(log_level, log_format)

    import uvicorn

    from connectory.api import create_app
    from connectory.api.limits import server_options
    from connectory.settings import Settings
    from connectory.startup import settle_heap_for_serving

    # /metrics is open without its token only while the server listens on loopback.
    overrides: dict[str, object] = {"bind_host": host}
    if database_url:
        overrides["database_url"] = database_url
    if examples is not None:
        overrides["examples_dir"] = examples
    settings = Settings(**overrides)  # type: ignore[arg-type]  # validated by pydantic
    if settings.public_url is None and settings.database_url.startswith("sqlite"):
        # The embedded default is its own public address (a laptop, a demo, tests).
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"public_url": f"http://{shown}:{port}"})

    def show_token(token: str) -> None:
        # stdout, once, and never into the log: it is the only copy.
        sys.stdout.write(
            "\nFirst start: created the Platform Admin "
            f"{settings.bootstrap_admin_email}.\nAPI token (shown once, keep it safe):\n\n"
            f"    {token}\n\nUse it as: Authorization: Bearer <token>\n\n"
        )
        sys.stdout.flush()

    def started() -> None:
        # Start-up's objects out of the collector's reach, fewer young collections: the
        # longest pauses of requests under load were full collections (docs/operations.md).
        settle_heap_for_serving(settings.gc_young_threshold)

    app = create_app(settings, on_first_admin_token=show_token, on_started=started)
    sys.stderr.write(f"Connectory on http://{host}:{port}  (API docs: http://{host}:{port}/docs)\n")
    # log_config=None: uvicorn's loggers keep the handler (and format) configured above.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=None,
        **server_options(settings),
    )
