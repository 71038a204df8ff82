"""``connectory test CONNECTOR``: run a connector's test cases offline from their recordings.

``--record`` records them against the real API first (credentials from ``--credentials``;
every known secret is scrubbed before a recording is written). See docs/recorded-tests.md.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from connectory.cli.values import read_values_file
from connectory.errors import InputError


def test(
    connector: Annotated[Path, typer.Argument(help="The connector file or folder.")],
    record: Annotated[
        bool, typer.Option("--record", help="Record the cases against the real API first.")
    ] = False,
    case: Annotated[
        list[str] | None, typer.Option("--case", help="Run only this case (repeatable).")
    ] = None,
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="The cases file (default: tests/cases.yaml of the folder)."),
    ] = None,
    credentials: Annotated[
        Path | None, typer.Option("--credentials", help="Credentials to record with.")
    ] = None,
    connector_parameters: Annotated[
        Path | None,
        typer.Option("--connector-parameters", help="Connector parameters to record with."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML/JSON file with connection config.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Record against this base URL.")
    ] = None,
) -> None:
    """Run a connector's test cases from their recordings (or record them with --record)."""
    from connectory.cli.app import guard
    from connectory.cli.output import escape, stderr_console, stdout_console

    def run() -> None:
        from connectory.cases import CaseRunner, cases_path_for, load_cases
        from connectory.spec import load_connector

        if not record and (credentials or base_url or connector_parameters):
            raise InputError(
                "--credentials, --connector-parameters and --base-url are for --record; replay "
                "needs none"
            )
        spec = load_connector(connector)
        path = cases or cases_path_for(connector)
        runner = CaseRunner(
            spec,
            load_cases(path),
            path.parent / "recordings",
            record=record,
            credentials=read_values_file(credentials, "credentials") if credentials else None,
            connector_parameters=read_values_file(connector_parameters, "connector parameters")
            if connector_parameters
            else None,
            config=read_values_file(config, "config") if config else None,
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
