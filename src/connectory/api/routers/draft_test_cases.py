"""``/connectors/{id}/draft/test-cases``: save a builder test run as a recorded test case.

The Test tab's "Save as test case": the case runs once against the real API with the test
credentials (used for this request only, never stored), its traffic recorded with every secret
scrubbed, and the case and its recording are stored with the draft (``tests/``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import Values
from connectory.api.schemas.connectors import error_responses
from connectory.api.schemas.values import (
    WHOLE_NUMBER,
    IdPath,
    JsonParameter,
    Key,
    ParameterObject,
    ScalarValue,
)
from connectory.cases import CaseSpec
from connectory.errors import InvalidRequest
from connectory.services.test_cases import save_draft_case

_Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_Text = Annotated[str, StringConstraints(max_length=2000)]

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connectors/{connector_id}", tags=["connector versions"]
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ExpectIn(_Strict):
    """What the case's result must show (docs/recorded-tests.md)."""

    status: Annotated[int, Field(ge=100, le=599), WHOLE_NUMBER] | None = None
    error: _Name | None = Field(default=None, description="The error class the call raises.")
    count: Annotated[int, Field(ge=0, le=1_000_000), WHOLE_NUMBER] | None = None
    records: list[ParameterObject] | None = Field(default=None, max_length=100)
    body: JsonParameter = None
    record: ParameterObject | None = None
    schema_: bool | None = Field(default=None, alias="schema")


class _CaseIn(_Strict):
    name: _Name
    description: _Text | None = None
    expect: ExpectIn = Field(default_factory=ExpectIn)

    def to_case(self) -> CaseSpec:
        """The case as the runner takes it."""
        data: dict[str, Any] = self.model_dump(by_alias=True, exclude_none=True)
        try:
            return CaseSpec.model_validate(data)
        except ValidationError as error:  # pragma: no cover - the schema says the same
            message = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidRequest(f"the case is not valid: {message}") from None


class OperationCaseIn(_CaseIn):
    """A case that calls an operation."""

    operation: _Name
    params: ParameterObject = Field(default_factory=dict)
    all_pages: bool = False


class CollectionCaseIn(_CaseIn):
    """A case that runs a collection method."""

    collection: _Name
    method: Literal["list", "find_by_id", "match", "search", "create", "update", "delete"]
    input: ParameterObject = Field(default_factory=dict)


class EventCaseIn(_CaseIn):
    """A case that hands an event's handle a sample delivery."""

    event: _Name
    payload: JsonParameter = None
    headers: Annotated[dict[Key, ScalarValue], Field(max_length=100)] = Field(default_factory=dict)


class TestCaseSave(_Strict):
    """A case to record and keep with the draft, and the test credentials to record it with."""

    case: OperationCaseIn | CollectionCaseIn | EventCaseIn = Field(
        description="Exactly one kind: operation, collection (with method) or event."
    )
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
    connector_id: IdPath,
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
        body.case.to_case(),
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
