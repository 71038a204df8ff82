"""The quick reading of ``connectory call`` (no typer) reads what typer reads, or declines.

Every accepted command line is parsed by typer's own ``call`` command too, and both must give
the same options; every declined one goes to typer unchanged (help, errors, remote calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from connectory.cli.call_command import CallOptions, parse_local_call
from connectory.cli.commands import _app
from connectory.cli.server_url import DEFAULT_SERVER

_PATHS = ("credentials", "connector_parameters", "config")


def typer_reads(args: list[str]) -> CallOptions:
    """The options typer's ``call`` command parses from *args* (parsed, not run)."""
    group = typer.main.get_command(_app)
    command = group.commands["call"]  # type: ignore[attr-defined]
    with command.make_context("call", list(args)) as context:
        params: dict[str, Any] = dict(context.params)
    for name in _PATHS:
        if params[name] is not None:
            params[name] = Path(params[name])
    params["param"] = list(params["param"] or [])
    return CallOptions(**params)


ACCEPTED = [
    ["c.yaml", "get_item"],
    ["c.yaml", "get_item", "-p", "id=1", "--credentials", "creds.yaml", "--base-url", "http://h"],
    ["--credentials=creds.yaml", "c.yaml", "-p", "a=1", "get_item", "--param", "b=x=y"],
    ["c.yaml", "list", "--all-pages", "--max-pages", "3", "--strict", "-i", "-vv"],
    ["c.yaml", "list", "--include", "-v", "-v", "--config", "cfg.json"],
    ["c.yaml", "op", "--connector-parameters", "p.yaml", "--max-pages=12", "-p", "q="],
]


@pytest.mark.parametrize("args", ACCEPTED, ids=lambda a: " ".join(a))
def test_what_it_accepts_typer_reads_the_same(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONNECTORY_URL", raising=False)
    monkeypatch.delenv("CONNECTORY_TOKEN", raising=False)
    quick = parse_local_call(args)
    assert quick is not None
    assert quick == typer_reads(args)
    assert quick.server == DEFAULT_SERVER and quick.connection is None


DECLINED = [
    [],
    ["c.yaml"],  # typer's message for a missing operation
    ["c.yaml", "op", "extra"],
    ["c.yaml", "op", "--help"],
    ["--help"],
    ["op", "--connection", "conn-1"],  # a remote call
    ["c.yaml", "op", "--token", "t"],
    ["c.yaml", "op", "--unknown"],
    ["c.yaml", "op", "--base-url"],  # no value
    ["c.yaml", "op", "--base-url", "-p"],  # a value typer might read differently
    ["c.yaml", "op", "--base-url", "a", "--base-url", "b"],
    ["c.yaml", "op", "--max-pages", "0"],
    ["c.yaml", "op", "--max-pages", "two"],
    ["c.yaml", "op", "--max-pages", "1", "--max-pages", "2"],
    ["c.yaml", "op", "-p=a=1"],
    ["c.yaml", "op", "-pa=1"],
    ["c.yaml", "op", "-iv"],
    ["c.yaml", "op", "--verbose"],
    ["c.yaml", "op", "--strict=yes"],
    ["c.yaml", "op", "-i", "--include"],
    ["c.yaml", "op", "--", "-x"],
    ["c.yaml", "op", "-"],
    ["c.yaml", "op", ""],
    ["c.yaml", "op", "--credentials", ""],
]


@pytest.mark.parametrize("args", DECLINED, ids=lambda a: " ".join(a) or "(nothing)")
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert parse_local_call(args) is None
