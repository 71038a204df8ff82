from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from connectory.errors import Problem
from connectory.spec import ValidationReport, check_connector_text

#: The overview every test connector starts with.
HEAD = "name: Demo\nbase_url: https://api.example.com\n"

CheckYaml = Callable[..., ValidationReport]
ProblemAt = Callable[[ValidationReport, str], Problem]


@pytest.fixture
def check_yaml() -> CheckYaml:
    """Check a connector written as (indented) YAML text; ``head=True`` prepends name/base_url."""

    def check(
        text: str, *, head: bool = True, filename: str = "connector.yaml"
    ) -> ValidationReport:
        body = textwrap.dedent(text)
        return check_connector_text(HEAD + body if head else body, filename)

    return check


@pytest.fixture
def problem_at() -> ProblemAt:
    """Return the single problem of a report at a field path (fails when there is not one)."""

    def find(report: ValidationReport, path: str) -> Problem:
        found = [problem for problem in report.problems if problem.path == path]
        assert len(found) == 1, f"expected one problem at {path!r}, got {report.problems}"
        return found[0]

    return find
