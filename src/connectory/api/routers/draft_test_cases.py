"""``/connectors/{id}/draft/test-cases``: save a builder test run as a recorded test case.

The Test tab's "Save as test case": the case runs once against the real API with the test
credentials (used for this request only, never stored), its traffic recorded with every secret
scrubbed, and the case and its recording are stored with the draft (``tests/``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.schemas.connections import Values
from connectory.api.schemas.connectors import error_responses
from connectory.cases import CaseSpec
from connectory.services.test_cases import save_draft_case

router = APIRouter(prefix="/connectors/{connector_id}", tags=["connector versions"])


class TestCaseSave(BaseModel):
    """A case to record and keep with the draft, and the test credentials to record it with."""

    model_config = ConfigDict(extra="forbid")
    case: CaseSpec
    credentials: Values = Field(default_factory=dict, max_length=100)
    connector_parameters: Values | None = Field(
        default=None, max_length=100, description="Default: the connector's stored parameters."
    )


class TestCaseSaved(BaseModel):
    """How the recorded run went, and the draft's files it wrote."""

    name: str
    outcome: str = Field(description="passed, failed or skipped (the case is kept either way).")
    problems: list[str]
    requests: int = Field(description="Requests recorded.")
    files: list[str]


@router.post(
    "/draft/test-cases",
    response_model=TestCaseSaved,
    responses=error_responses(403, 404),
    summary="Record a test case into the draft",
)
async def save_test_case(
    connector_id: str,
    body: TestCaseSave,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> TestCaseSaved:
    """Run the case with test credentials, recording it; keep case and recording in the draft."""
    result, files = await save_draft_case(
        session,
        principal,
        request.app.state.secret_box,
        request.app.state.settings,
        request.app.state.runtimes.pipeline,
        connector_id,
        body.case,
        body.credentials,
        body.connector_parameters,
    )
    return TestCaseSaved(
        name=result.name,
        outcome=result.outcome,
        problems=result.problems,
        requests=result.requests,
        files=files,
    )
