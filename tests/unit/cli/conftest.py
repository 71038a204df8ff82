"""The CLI tests run the commands in process against the project's test API on loopback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from connectory.cli.app import app
from connectory.testing import create_test_api, serve

ROOT = Path(__file__).resolve().parents[3]
TESTAPI_CONNECTOR = ROOT / "examples" / "testapi" / "connector.yaml"
API_KEY = "test-api-key"

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _restore_connectory_logger() -> Iterator[None]:
    """``connectory call`` configures the ``connectory`` logger as a program would; undo that."""
    logger = logging.getLogger("connectory")
    requests = logging.getLogger("connectory.runtime.requests")
    saved = (list(logger.handlers), logger.propagate, logger.level, requests.level)
    yield
    logger.handlers[:], logger.propagate, logger.level, requests.level = saved


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with serve(create_test_api(records=250)) as url:
        yield url


#: A few operations of the test API, for error paths (the full example takes longer to check).
SMALL_CONNECTOR = """\
name: Small
base_url: http://127.0.0.1:1
auth:
  auth_type: api_key
  credential_schema:
    api_key: {label: API Key, type: password, required: true}
  header_name: X-API-Key
  key_prefix: "Token "
resilience: {max_retries: 0}
operations:
  - operation: get_item
    path: /items/{id}
    parameters: [{name: id, location: path, type: integer, required: true}]
  - operation: get_status
    path: /status/{code}
    parameters: [{name: code, location: path, type: integer, required: true}]
  - operation: get_invalid_json
    path: /invalid-json
  - operation: list_protected_items
    path: /auth/api-key-header/items
    record_selector: data
    pagination: {type: page_number, page_size: 100, total_path: meta.total}
  - operation: bad_repeat_cursor
    path: /bad/repeat-cursor/items
    record_selector: data
    pagination: {type: cursor, cursor_path: meta.next_cursor}
  - operation: bad_foreign_next
    path: /bad/foreign-next/items
    record_selector: data
    pagination: {type: next_url}
"""


@pytest.fixture(scope="module")
def small_connector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("connector") / "small.yaml"
    path.write_text(SMALL_CONNECTOR, encoding="utf-8")
    return path


@pytest.fixture
def invoke() -> Invoke:
    """Run ``connectory ARGS``; stdout and stderr are kept apart (click >= 8.2)."""
    runner = CliRunner()

    def run(*args: str, **options: object) -> Result:
        env = {"COLUMNS": "200", "CONNECTORY_DEBUG": None}
        return runner.invoke(app, list(args), env=env, **options)  # type: ignore[arg-type]

    return run


@pytest.fixture
def credentials_file(tmp_path: Path) -> Path:
    path = tmp_path / "credentials.yaml"
    path.write_text(f"api_key: {API_KEY}\n", encoding="utf-8")
    return path


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
