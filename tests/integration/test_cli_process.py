"""The ``connectory`` program as a user runs it: its own process, real pipes, exit statuses.

The in-process CLI tests (tests/unit/cli) cover what each command says; these cover what only
a real process shows: the quick exit after one-shot commands (output flushed, status kept), a
reader that closes the pipe early, and what a single call has to import before its request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectory.cli.output import EXIT_BROKEN_PIPE, EXIT_INVALID, EXIT_UNREACHABLE
from connectory.testing import create_test_api, serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = str(ROOT / "examples" / "testapi" / "connector.yaml")
BROKEN = str(ROOT / "examples" / "broken.yaml")
API_KEY = "test-api-key"


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with serve(create_test_api(records=5000)) as url:
        yield url


@pytest.fixture
def credentials(tmp_path: Path) -> str:
    path = tmp_path / "credentials.yaml"
    path.write_text(f"api_key: {API_KEY}\n", encoding="utf-8")
    return str(path)


def connectory(*args: str) -> list[str]:
    return [sys.executable, "-m", "connectory.cli", *args]


def test_a_single_call_prints_its_body_and_exits_zero(api_url: str, credentials: str) -> None:
    done = subprocess.run(
        connectory("call", CONNECTOR, "get_item", "-p", "id=7", "--credentials", credentials,
                   "--base-url", api_url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == 7
    assert done.stderr == ""


def test_every_record_reaches_the_pipe_before_the_quick_exit(
    api_url: str, credentials: str
) -> None:
    done = subprocess.run(
        connectory("call", CONNECTOR, "list_page_items", "--all-pages", "--credentials",
                   credentials, "--base-url", api_url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5000
    assert [json.loads(line)["id"] for line in lines[:3]] == [1, 2, 3]
    assert "5,000 record(s)" in done.stderr


def test_errors_keep_their_exit_status_and_message(credentials: str) -> None:
    unreachable = subprocess.run(
        connectory("call", CONNECTOR, "get_item", "-p", "id=1", "--credentials", credentials,
                   "--base-url", "http://127.0.0.1:1"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unreachable.returncode == EXIT_UNREACHABLE
    assert "could not be reached" in unreachable.stderr
    broken = subprocess.run(connectory("validate", BROKEN), capture_output=True, text=True)
    assert broken.returncode == EXIT_INVALID
    assert "error(s)" in broken.stderr
    # Its first operation is invalid (location: pth), which once hid its unfilled placeholder.
    assert "placeholder {thing_id}" in broken.stderr
    for output in (unreachable, broken):
        assert "Traceback" not in output.stderr


def test_a_reader_that_stops_early_ends_the_read_quietly(api_url: str, credentials: str) -> None:
    with subprocess.Popen(
        connectory("call", CONNECTOR, "list_page_items", "--all-pages", "--credentials",
                   credentials, "--base-url", api_url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as process:  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # like `| head -n 1`
        errors = process.stderr.read().decode()
        status = process.wait(timeout=60)
    assert json.loads(first)["id"] == 1
    assert status == EXIT_BROKEN_PIPE
    assert "error" not in errors and "Traceback" not in errors


def test_a_single_call_loads_only_what_it_needs(api_url: str, credentials: str) -> None:
    # The start-up budget (bench/, <= 0.5 s to the first request) rests on a single call not
    # importing the pooled transport (aiohttp), the detailed schema checker (jsonschema),
    # the console library (rich) or httpx's own command line.
    script = (
        "import sys\n"
        "from connectory.cli.app import app\n"
        f"sys.argv = ['connectory', 'call', {CONNECTOR!r}, 'get_item', '-p', 'id=1',"
        f" '--credentials', {credentials!r}, '--base-url', {api_url!r}]\n"
        "try:\n    app()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "heavy = ('aiohttp', 'jsonschema', 'rich', 'jinja2', 'pygments')\n"
        "loaded = [m for m in heavy if sys.modules.get(m) is not None]\n"
        "if hasattr(sys.modules.get('httpx._main'), '__file__'):\n"
        "    loaded.append('httpx._main')\n"
        "print(sorted(loaded), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def imported_by_a_call(api_url: str, credentials: str) -> set[str]:
    """Every module the real program imports for a plain single call, down to its quick exit.

    `-X importtime` lists them on stderr; the call must still succeed and print its record.
    """
    call = ["call", CONNECTOR, "get_item", "-p", "id=1", "--credentials", credentials]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "connectory.cli", *call, "--base-url", api_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["id"] == 1
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "connectory.runtime.client" in imported  # the listing is real
    return imported


def test_a_single_call_does_not_load_the_other_commands(api_url: str, credentials: str) -> None:
    # `connectory call` parses its arguments with only the commands of cli/app.py registered:
    # the server, the worker and the remote client (and what they import) stay unloaded.
    others = {
        "connectory.cli.serve",
        "connectory.cli.worker",
        "connectory.cli.remote_call",
        "connectory.cli.contract_command",
        "connectory.remote",
        "connectory.collections",
    }
    assert sorted(imported_by_a_call(api_url, credentials) & others) == []


def test_a_call_process_freezes_what_it_loaded_before_reading(
    api_url: str, credentials: str
) -> None:
    # The real entry point (main, with its quick exit) marks the process as one-shot, so the
    # call freezes the loaded modules and connector out of later collections; the quick exit
    # is wrapped to report the frozen count once every record is written.
    script = (
        "import gc, os, sys\n"
        "quick_exit = os._exit\n"
        "def report(code):\n"
        "    print('frozen', gc.get_freeze_count(), file=sys.stderr, flush=True)\n"
        "    quick_exit(code)\n"
        "os._exit = report\n"
        "from connectory.cli.app import main\n"
        f"sys.argv = ['connectory', 'call', {CONNECTOR!r}, 'list_page_items', '--all-pages',"
        f" '--credentials', {credentials!r}, '--base-url', {api_url!r}]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5000
    frozen = int(done.stderr.strip().splitlines()[-1].removeprefix("frozen "))
    assert frozen > 10_000  # the runtime, the models and the connector


def test_the_full_command_line_still_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "connectory.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    for command in ("call", "serve", "worker", "contract-test", "import-openapi", "export"):
        assert f" {command} " in done.stdout


def test_a_plain_call_is_parsed_without_typer(api_url: str, credentials: str) -> None:
    # A local call in its plain form is read by connectory.cli.call_command: typer, click and
    # rich (the console, loaded only to print problems) stay unloaded, and so does httpx's CLI.
    command_lines = {"typer", "click", "rich", "pygments", "httpx._main"}
    assert sorted(imported_by_a_call(api_url, credentials) & command_lines) == []


def test_the_python_api_loads_no_command_line_and_leaves_httpx_alone(api_url: str) -> None:
    # A library must not replace another package's modules: only the command line defers
    # httpx's own CLI (connectory.startup); the Python API loads no typer.
    script = (
        "import asyncio, sys\n"
        "import connectory\n"
        f"spec = connectory.load_connector({CONNECTOR!r})\n"
        "async def main():\n"
        f"    async with connectory.ConnectorClient(spec, credentials={{'api_key': {API_KEY!r}}},"
        f" base_url={api_url!r}) as client:\n"
        "        return await client.call('get_item', {'id': 3})\n"
        "result = asyncio.run(main())\n"
        "assert result.body['id'] == 3, result.body\n"
        "loaded = [m for m in ('typer', 'connectory.cli') if m in sys.modules]\n"
        "main = sys.modules.get('httpx._main')\n"
        "if main is not None and not hasattr(main, '__file__'):\n"
        "    loaded.append('a stand-in for httpx._main')\n"
        "print(sorted(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_httpx_still_runs_its_own_command_line_after_the_cli_deferred_it() -> None:
    script = (
        "import sys\n"
        "import connectory.cli, httpx\n"
        "assert 'click' not in sys.modules\n"
        "stand_in = sys.modules['httpx._main']\n"
        "from httpx._main import print_help\n"  # any name of it loads the real module
        "assert 'click' in sys.modules and sys.modules['httpx._main'] is stand_in\n"
        "assert stand_in.__file__.endswith('_main.py') and callable(print_help)\n"
        "sys.argv = ['httpx', '--help']\n"
        "httpx.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: httpx <URL> [OPTIONS]" in done.stdout


def _typer_run(*args: str) -> list[str]:
    """The same command line, parsed by typer (the whole app) instead of the quick reading."""
    argv = ["connectory", *args]
    script = f"import sys\nfrom connectory.cli.app import app\nsys.argv = {argv!r}\napp()\n"
    return [sys.executable, "-c", script]


@pytest.mark.parametrize(
    "case",
    ["body", "unknown operation", "bad parameter", "missing credentials", "unreachable", "pages"],
)
def test_the_quick_reading_and_typer_run_a_call_alike(
    case: str, api_url: str, credentials: str, tmp_path: Path
) -> None:
    base = ["--credentials", credentials, "--base-url", api_url]
    args = {
        "body": ["call", CONNECTOR, "get_item", "-p", "id=4", *base],
        "unknown operation": ["call", CONNECTOR, "no_such_operation", *base],
        "bad parameter": ["call", CONNECTOR, "get_item", "-p", "id", *base],
        "missing credentials": [
            "call", CONNECTOR, "get_item", "-p", "id=4",
            "--credentials", str(tmp_path / "absent.yaml"), "--base-url", api_url,
        ],
        "unreachable": [
            "call", CONNECTOR, "get_item", "-p", "id=4", "--credentials", credentials,
            "--base-url", "http://127.0.0.1:9",
        ],
        "pages": ["call", CONNECTOR, "list_page_items", "--max-pages", "2", *base],
    }[case]  # fmt: skip
    quick = subprocess.run(connectory(*args), capture_output=True, text=True, timeout=60)
    parsed = subprocess.run(_typer_run(*args), capture_output=True, text=True, timeout=60)
    assert (quick.returncode, quick.stdout) == (parsed.returncode, parsed.stdout)
    if case != "pages":  # the progress line of a read has its timing
        assert quick.stderr == parsed.stderr
    assert "Traceback" not in quick.stderr
