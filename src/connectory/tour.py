"""``python -m connectory.tour``: a five-minute tour of the CLI on the bundled examples.

It validates the OpenWeatherMap example from the seed, lists the operations of the test API's
connector, starts the test API on a free loopback port, calls an operation, and streams every
record of a paginated operation. Each step prints the command it runs, so the tour doubles as
a copy-paste reference.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from connectory.testing.api import create_test_api
from connectory.testing.server import serve


def _examples_dir() -> Path:
    for candidate in (Path.cwd() / "examples", Path(__file__).resolve().parents[2] / "examples"):
        if (candidate / "openweathermap").is_dir():
            return candidate
    raise SystemExit("the examples/ folder was not found; run the tour from the repository root")


def _run(title: str, *args: str, stdout_to_null: bool = False) -> int:
    shown = "connectory " + " ".join(shlex.quote(arg) for arg in args)
    if stdout_to_null:
        shown += " > /dev/null"
    sys.stderr.write(f"\n\033[1m== {title}\033[0m\n$ {shown}\n")
    sys.stderr.flush()
    command = [sys.executable, "-m", "connectory.cli", *args]
    stdout = subprocess.DEVNULL if stdout_to_null else None
    return subprocess.run(command, stdout=stdout, check=False).returncode


def main() -> int:
    """Run the tour; return 0 when every step did what it shows."""
    examples = _examples_dir()
    relative = os.path.relpath(examples)
    failures = 0
    failures += (
        _run(
            "Validate the seed's OpenWeatherMap connector", "validate", f"{relative}/openweathermap"
        )
        != 0
    )
    failures += (
        _run(
            "A connector with mistakes: every problem, with file, line and field",
            "validate",
            f"{relative}/broken.yaml",
        )
        != 1
    )
    testapi = f"{relative}/testapi/connector.yaml"
    failures += _run("The operations of the test API's connector", "operations", testapi) != 0
    with tempfile.TemporaryDirectory() as scratch, serve(create_test_api(2_500)) as url:
        credentials = Path(scratch) / "credentials.yaml"
        credentials.write_text("api_key: test-api-key\n", encoding="utf-8")
        common = ["--credentials", str(credentials), "--base-url", url]
        failures += (
            _run(
                "Call one operation (the test API runs on a free port)",
                "call",
                testapi,
                "get_item",
                "-p",
                "id=7",
                *common,
            )
            != 0
        )
        failures += (
            _run(
                "Stream every record of a cursor-paginated operation as JSON Lines",
                "call",
                testapi,
                "list_cursor_items",
                "--all-pages",
                *common,
                stdout_to_null=True,
            )
            != 0
        )
    verdict = "the tour ran as shown" if not failures else f"{failures} step(s) went wrong"
    sys.stderr.write(f"\n{verdict}. Next: README.md, docs/connector-format.md, docs/cli.md\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
