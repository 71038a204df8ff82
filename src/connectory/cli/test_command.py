"""``connectory test CONNECTOR``: run a connector's test cases offline from their recordings.

``--record`` records them against the real API first (credentials from ``--credentials``;
every known secret is scrubbed before a recording is written). See docs/recorded-tests.md.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import orjson
import typer

from connectory.cli.options import BaseUrl, Config, ConnectorParameters, Credentials
from connectory.cli.values import read_local_values
from connectory.errors import InputError


def test(
    connector: Annotated[
        Path, typer.Argument(help="The connector file or folder, or an export file (.json).")
    ],
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Record the cases against the real API first (with --credentials, "
            "--connector-parameters, --config, --base-url).",
        ),
    ] = False,
    case: Annotated[
        list[str] | None, typer.Option("--case", help="Run only this case (repeatable).")
    ] = None,
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="The cases file (default: tests/cases.yaml of the folder)."),
    ] = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Run a connector's test cases from their recordings (or record them with --record)."""
    from connectory.cli.app import guard
    from connectory.cli.output import escape, stderr_console, stdout_console

    def run() -> None:
        if not record and (credentials or base_url or connector_parameters):
            raise InputError(
                "--credentials, --connector-parameters and --base-url are for --record; replay "
                "needs none"
            )
        with ExitStack() as stack:
            folder = _unpacked_export(connector, stack)
            if folder is not None and record:
                raise InputError("record into a connector folder, not into an export file")
            _run(folder or connector)

    def _run(where: Path) -> None:
        from connectory.cases import CaseRunner, cases_path_for, load_cases
        from connectory.spec import load_connector

        spec = load_connector(where)
        path = cases or cases_path_for(where)
        runner = CaseRunner(
            spec,
            load_cases(path),
            path.parent / "recordings",
            record=record,
            **read_local_values(credentials, connector_parameters, config),
            base_url=base_url,
        )
        results = asyncio.run(runner.run(case or None))
        out = stdout_console()
        marks = {
            "passed": "[green]passed[/]",
            "failed": "[red]FAILED[/]",
            "skipped": "[yellow]skipped[/]",
        }
        for result in results:
            out.print(
                f"{marks[result.outcome]}  {escape(result.name)}  ({result.requests} request(s))"
            )
            for problem in result.problems:
                out.print(f"        {escape(problem)}")
        failed = sum(r.outcome == "failed" for r in results)
        passed = sum(r.outcome == "passed" for r in results)
        skipped = sum(r.outcome == "skipped" for r in results)
        verb = "recorded" if record else "replayed"
        stderr_console().print(f"{verb}: {passed} passed, {failed} failed, {skipped} skipped")
        if failed:
            raise typer.Exit(1)

    guard(run)


def _unpacked_export(path: Path, stack: ExitStack) -> Path | None:
    """An export file (``connectory export``) unpacked into a temporary connector folder.

    Returns None when *path* is not an export file.

    Raises:
        InputError: an export holding a file outside hooks/ and tests/.
    """
    if not path.is_file() or path.suffix.lower() != ".json":
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != "connectory-connector":
        return None
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="connectory-test-")))
    (folder / "connector.json").write_bytes(orjson.dumps(data.get("document") or {}))
    files = data.get("files") or {}
    for name, text in files.items() if isinstance(files, dict) else []:
        parts = str(name).split("/")
        if parts[0] not in ("hooks", "tests") or ".." in parts or not isinstance(text, str):
            raise InputError(f"the export holds a file the connector format does not: {name!r}")
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder
