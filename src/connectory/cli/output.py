"""Console helpers shared by the commands: error reporting, exit codes, progress on stderr."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, TypeVar

from connectory.errors import (
    AuthError,
    CircuitOpen,
    ConnectoryError,
    CredentialsError,
    InputError,
    LogLine,
    OperationNotFound,
    PaginationError,
    RateLimited,
    ResponseError,
    ScriptError,
    SpecError,
    TemplateError,
    TransportError,
    UpstreamError,
)

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported when something is printed, not when a command starts: a successful
# `connectory call` prints its data with orjson and never needs it (about 30 ms saved).

T = TypeVar("T")

#: Exit codes of every command (documented in docs/cli.md).
EXIT_OK = 0
EXIT_INVALID = 1  # the connector, the parameters or the credentials are wrong
EXIT_USAGE = 2  # wrong command-line usage (typer's own code)
EXIT_UPSTREAM = 3  # the upstream answered, but with an error or an unusable body
EXIT_UNREACHABLE = 4  # the upstream could not be reached in time, or the call was held back
EXIT_INTERNAL = 70  # a bug in Connectory
EXIT_BROKEN_PIPE = 141  # stdout's reader went away (128 + SIGPIPE, as the shell reports it)


def guard(action: Callable[[], T]) -> T:
    """Run *action*, turning Connectory errors into a message and an exit code.

    The exit is a ``SystemExit``, which click passes through as it does its own ``Exit``:
    ``connectory call`` runs through here without typer and click loaded (see call_command).
    """
    try:
        return action()
    except ConnectoryError as error:
        report_error(stderr_console(), error)
        raise SystemExit(exit_code_for(error)) from None
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as `cat` would.
        silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    except Exception as error:  # a bug: say so plainly, without a traceback
        if _is_click_exit(error) or os.environ.get("CONNECTORY_DEBUG"):
            raise
        stderr_console().print(
            f"[bold red]internal error:[/] {type(error).__name__}. This is a bug in Connectory; "
            "run again with CONNECTORY_DEBUG=1 for details and report it."
        )
        raise SystemExit(EXIT_INTERNAL) from None


def _is_click_exit(error: Exception) -> bool:
    """Whether *error* is typer's or click's ``Exit`` or ``Abort``: a command ending as asked."""
    for name in ("typer.exceptions", "click.exceptions"):
        exceptions = sys.modules.get(name)  # loaded whenever one of them was raised
        if exceptions is not None and isinstance(error, exceptions.Exit | exceptions.Abort):
            return True
    return False


def silence_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so no later flush fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def stderr_console() -> Console:
    """A console on stderr (stdout is for data)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console(width: int | None = None) -> Console:
    """A console on stdout, for tables and messages that are the command's output."""
    from rich.console import Console

    return Console(highlight=False, width=width)


def escape(text: str) -> str:
    """Escape *text* for rich markup (``[`` would otherwise start a style tag)."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)


def exit_code_for(error: ConnectoryError) -> int:
    """Map an error to the command's exit code."""
    if isinstance(
        error,
        SpecError | InputError | CredentialsError | OperationNotFound | TemplateError | ScriptError,
    ):
        return EXIT_INVALID
    # A looping or host-hopping pagination is the upstream's answer being unusable.
    if isinstance(error, AuthError | UpstreamError | ResponseError | PaginationError):
        return EXIT_UPSTREAM
    if isinstance(error, TransportError | RateLimited | CircuitOpen):
        return EXIT_UNREACHABLE
    return EXIT_INVALID


def report_error(console: Console, error: ConnectoryError) -> None:
    """Print *error* for a person: what went wrong and, through its message, what to do."""
    if isinstance(error, SpecError):
        report_problems(console, error)
        return
    if isinstance(error, ScriptError):
        report_logs(console, error.logs)
    console.print(f"[bold red]error:[/] {escape(str(error))}")
    if isinstance(error, ScriptError):
        for frame in error.stack:
            console.print(f"    at {escape(frame)}")


def report_logs(console: Console, logs: list[LogLine]) -> None:
    """Print what connector JavaScript logged, with where it logged it."""
    for line in logs:
        where = f" [dim]{escape(line.location)}[/]" if line.location else ""
        console.print(f"[cyan]js {line.level}:[/]{where} {escape(line.message)}")


def report_problems(console: Console, error: SpecError) -> None:
    """Print every problem of an invalid connector, one per line, errors first."""
    ordered = sorted(
        error.problems, key=lambda p: (p.severity != "error", p.file or "", p.line or 0)
    )
    for problem in ordered:
        colour = "red" if problem.severity == "error" else "yellow"
        field = f" [bold]{escape(problem.path)}[/]:" if problem.path else ""
        console.print(
            f"{escape(problem.location())}: [{colour}]{problem.severity}[/]:{field} "
            f"{escape(problem.message)}"
        )
    errors = sum(1 for p in error.problems if p.severity == "error")
    warnings = len(error.problems) - errors
    console.print(f"[red]{errors} error(s)[/], {warnings} warning(s)")


#: Pauses shorter than this are not reported: they last no longer than a slow page.
MIN_REPORTED_WAIT = 1.0


class ProgressLine:
    """A one-line progress report on stderr for long reads.

    On a terminal the line is rewritten in place; otherwise (a log file, CI) a line is printed
    at most every *interval* seconds, and always at the end, so logs stay short. A pause of
    the read (``waiting 58.2 s (rate limit)``) is shown at once.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = 2.0) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._interval = 0.1 if self._tty else interval
        self._started = time.monotonic()
        # -inf, not 0.0: monotonic time starts near 0 at boot, which suppressed the first line.
        self._last = float("-inf")
        self._status = ""

    def update(self, pages: int, records: int, force: bool = False) -> None:
        """Report progress; cheap to call after every page."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self._status = f"{pages:,} page(s), {records:,} record(s)"
        self.show(
            f"{self._status}, {elapsed:.1f} s, {records / elapsed:,.0f} records/s",
            force,
        )

    def count(self, done: int, what: str, force: bool = False) -> None:
        """Report a running count, e.g. ``1,200 secret(s) re-encrypted, 3.1 s``."""
        elapsed = time.monotonic() - self._started
        self._status = f"{done:,} {what}"
        self.show(f"{self._status}, {elapsed:.1f} s", force)

    def waiting(self, seconds: float, cause: str) -> None:
        """Report that the read is paused, e.g. ``60 page(s), ...; waiting 58.2 s (rate limit)``.

        Shown at once (a pause is news), unless shorter than :data:`MIN_REPORTED_WAIT`.
        """
        if seconds < MIN_REPORTED_WAIT:
            return
        so_far = f"{self._status}; " if self._status else ""
        self.show(f"{so_far}waiting {seconds:.1f} s ({cause})", force=True)

    def show(self, text: str, force: bool = False) -> None:
        """Write *text* as the progress line, unless the last one was written just now."""
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        if self._tty:
            self._stream.write("\r\x1b[2K" + text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self, pages: int, records: int) -> None:
        """Print the final line."""
        self.update(pages, records, force=True)
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
