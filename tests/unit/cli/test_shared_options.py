"""An option spelled alike in several commands reads alike: the declaration of cli/options.py.

Each command's option is compared with the alias's own declaration (spelling, environment
variable, help); the few commands where the spelling means something else are listed here, so
that a new one is a decision, not a copy with a reworded help.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from connectory.cli import options
from connectory.cli.commands import _full_app

#: Every shared option: its alias in connectory.cli.options.
SHARED = {
    "--base-url": options.BaseUrl,
    "--config": options.Config,
    "--connection": options.Connection,
    "--connector-parameters": options.ConnectorParameters,
    "--credentials": options.Credentials,
    "--database-url": options.DatabaseUrl,
    "--follow": options.Follow,
    "--format": options.OutputFormat,
    "--key-file": options.KeyFile,
    "--output": options.Output,
    "--param": options.Params,
    "--server": options.Server,
    "--token": options.Token,
}

#: (command, option) pairs declared on their own because the meaning differs (see each one's
#: comment in its module).
OWN_MEANING = {
    ("call", "--credentials"),  # OAuth2 tokens in it are refreshed in place
    ("connect", "--credentials"),  # required: the file the tokens are written to
    ("logs", "--connection"),  # required: there is no local log
    ("events subscriptions", "--connection"),  # a filter of the list
    ("tap", "--config"),  # the pipeline's source configuration
    ("airbyte check", "--config"),
    ("airbyte discover", "--config"),
    ("airbyte read", "--config"),
    ("serve", "--database-url"),  # what the server accepts, and its default
    ("worker", "--database-url"),  # PostgreSQL only
    ("import-openapi", "--output"),  # a folder too
}


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command of the full command line, with its name as typed."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in sorted(subcommands.items()):
        yield from _commands(sub, (*path, name))


def _declared(alias: object) -> Any:
    """The typer.Option an alias carries."""
    return typing.get_args(alias)[1]


def _spellings(declared: Any) -> list[str]:
    """An option's spellings: in an ``Annotated`` alias typer takes the first as the default."""
    return [declared.default, *declared.param_decls]


_ALL = list(_commands(typer.main.get_command(_full_app())))


@pytest.mark.parametrize("spelling", sorted(SHARED))
def test_a_shared_option_is_the_same_declaration_everywhere(spelling: str) -> None:
    declared = _declared(SHARED[spelling])
    seen = []
    for name, command in _ALL:
        for param in command.params:
            if spelling not in param.opts or (name, spelling) in OWN_MEANING:
                continue
            seen.append(name)
            assert param.help == declared.help, (name, spelling)
            assert param.envvar == declared.envvar, (name, spelling)
            assert sorted(param.opts) == sorted(_spellings(declared)), (name, spelling)
    assert len(seen) >= 2, f"{spelling} is shared by {seen}: no longer an option of several"


def test_the_declared_exceptions_still_exist_and_differ() -> None:
    commands = dict(_ALL)
    for name, spelling in sorted(OWN_MEANING):
        (param,) = [p for p in commands[name].params if spelling in p.opts]
        assert param.help != _declared(SHARED[spelling]).help, (name, spelling)
