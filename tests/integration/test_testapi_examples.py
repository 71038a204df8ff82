"""The test API's example connectors and the json-server connectors load cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectory.spec import ConnectorSpec, check_connector

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR_FILES = sorted(
    [
        *ROOT.glob("examples/testapi/*.yaml"),
        *ROOT.glob("examples/testapi-auth/*.yaml"),
        *ROOT.glob("tests/integration/data/*.yaml"),
    ]
)
IDS = [str(path.relative_to(ROOT)) for path in CONNECTOR_FILES]


#: Warnings that are expected, by file name. json-server 1 answers a bare array unless _page is
#: sent, so its cursor read must start from a _page=1 default; the cursor paginator does not
#: send cursor_param on the first page, so the parameter is not overridden there.
def test_every_auth_type_has_an_example() -> None:
    auth_types = set()
    for path in CONNECTOR_FILES:
        if path.parent.name.startswith("testapi"):
            auth_types.add(yaml.safe_load(path.read_text())["auth"]["auth_type"])
    assert auth_types == {"api_key", "basic", "bearer", "oauth2", "custom"}


@pytest.mark.parametrize("path", CONNECTOR_FILES, ids=IDS)
def test_connector_validates(path: Path) -> None:
    spec = ConnectorSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert spec.operations
    assert all(
        operation.response_schema is not None
        for operation in spec.operations
        if operation.name != "get_invalid_json"
    )


@pytest.mark.parametrize("path", CONNECTOR_FILES, ids=IDS)
def test_connector_passes_the_loader_without_problems(path: Path) -> None:
    report = check_connector(path)
    assert [str(problem) for problem in report.problems] == []
