"""The ``connectory`` command line.

Data goes to stdout (JSON, JSON Lines, tables); diagnostics and progress go to stderr, so
commands compose with pipes. Errors are printed as one actionable sentence with a documented
exit code, never as a traceback (set ``CONNECTORY_DEBUG=1`` to see one).

This module is the entry point and stays light: a local ``connectory call`` in its plain form
runs without typer (:mod:`connectory.cli.call_command`); every other command line is parsed by
the typer app of :mod:`connectory.cli.commands`, with only the commands defined there when the
command line names one of them, else with every command (``_full_app``).
``from connectory.cli.app import app`` returns the whole command line.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from connectory.cli.output import EXIT_BROKEN_PIPE, guard
from connectory.startup import gc_paused, mark_one_shot

__all__ = ["guard", "main"]

#: The commands defined in connectory.cli.commands; a command line naming one of them is
#: parsed by the app without the others (their modules are not imported).
_CORE_COMMANDS = frozenset({"validate", "schema", "operations", "call"})

#: Commands that hold nothing needing an orderly interpreter shutdown once they return: no
#: threads, no database, no files left open. After them the process ends at once.
_QUICK_EXIT_COMMANDS = frozenset({"call", "validate", "schema", "operations"})


def __getattr__(name: str) -> object:
    # `app` (the whole command line, as tests and embedders use it) is built on first access;
    # the commands' own names are those of connectory.cli.commands. Dunders (the import
    # system asks for `__path__`) are not: looking them up must not load typer.
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from connectory.cli import commands

    if name == "app":
        return commands._full_app()
    try:
        return getattr(commands, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def main() -> None:
    """Entry point of the ``connectory`` script."""
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    # Under a profiler or coverage, let the tool write its report at the normal exit.
    observed = sys.getprofile() is not None or sys.gettrace() is not None
    with gc_paused():  # the command line's modules: see connectory.startup
        run = _command_line(command)
    if command not in _QUICK_EXIT_COMMANDS or observed:
        run()
        return
    mark_one_shot()
    try:
        run()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    _quick_exit(code)


def _command_line(command: str | None) -> Callable[[], object]:
    """What runs the command line: the quick local call when it applies, else typer."""
    if sys.argv[1:2] == ["call"]:
        from connectory.cli.call_command import parse_local_call, run_call

        options = parse_local_call(sys.argv[2:])
        if options is not None:
            return lambda: run_call(options)
    from connectory.cli import commands

    return commands._app if command in _CORE_COMMANDS else commands._full_app()


def _quick_exit(code: int) -> None:
    """Flush the output and end the process without tearing the interpreter down.

    Python's shutdown (freeing every module and object one by one) takes 0.1-0.2 s once the
    runtime is loaded: as long as a one-shot `connectory call` needs to reach its first
    request. The commands that end here have written everything through stdout and stderr,
    which are flushed first; a failed flush (a closed pipe, as in `| head`) is that pipe's
    usual status, 141.
    """
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or EXIT_BROKEN_PIPE
    os._exit(code)
