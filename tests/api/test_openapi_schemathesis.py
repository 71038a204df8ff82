"""Schemathesis against the served OpenAPI: no server errors, every response as documented.

Every operation of ``/openapi.json`` (whatever routers exist) gets positive and negative
generated requests, authenticated as a platform admin and as an enterprise admin, in-process
through ASGI. Failures are collected over all operations before the test fails (the
``--continue-on-failure`` of the CLI), so one run reports every broken operation.

The run is bounded and repeatable: a few examples per operation, derandomised, no example
database. SQLite only, to keep it short; the rest of the suite covers PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectory.api import create_app
from connectory.settings import Settings

from .support import World

EXAMPLES_PER_OPERATION = 15
# What the API promises: no 5xx, and status, content type, headers and body as documented.
# (Schemathesis' negative_data_rejection is left out: unknown query parameters are ignored,
# as FastAPI does, and it counts accepting them as a failure.)
RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _run(check: Callable[[], None]) -> str | None:
    try:
        check()
    except Unsatisfiable:
        return None  # nothing to generate (no negative form of an operation without inputs)
    # Schemathesis raises a BaseExceptionGroup of failures; every one is collected.
    except (Exception, BaseExceptionGroup) as error:
        return f"{type(error).__name__}: {error}"[:3000]
    return None


def _stop_schemathesis_lifespans() -> None:
    # Schemathesis keeps an ASGI app's lifespan (here: its database engine) running until the
    # process ends; stop it so the test's database can be removed.
    from schemathesis.python import asgi

    shutdown = getattr(asgi, "shutdown_lifespans", None)  # not public API: tolerate its absence
    if shutdown is not None:
        shutdown()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("user", ["platform", "a_admin"])
def test_every_operation_holds_to_its_schema(settings: Settings, world: World, user: str) -> None:
    # Event long-polls and streams answer at once here instead of waiting for events.
    settings = settings.model_copy(update={"event_wait_seconds": 0.0})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    headers = world.auth(user)
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = {}
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            seen = statuses.setdefault(operation.label, set())
            for mode in schemathesis.GenerationMode:
                failure = _run(_property(operation, mode, headers, seen))
                if failure is not None:
                    failures[f"{operation.label} [{mode.value}]"] = failure
    finally:
        _stop_schemathesis_lifespans()
    assert len(statuses) >= 15  # the identity endpoints at least
    # The run is authenticated: every operation answered something besides 401.
    assert {label for label, seen in statuses.items() if seen <= {401}} == set()
    assert 200 in statuses["GET /me"]
    assert failures == {}, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


def _property(
    operation: Any,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    seen: set[int],
) -> Callable[[], None]:
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=RESPONSE_CHECKS)
        seen.add(response.status_code)

    return check
