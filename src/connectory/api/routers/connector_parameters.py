"""``/connectors/{id}/parameters``: set connector parameters; values are never read back."""

from __future__ import annotations

from fastapi import APIRouter, Request

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import ConnectorParametersOut, ConnectorParametersUpdate
from connectory.api.schemas.identity import error_responses
from connectory.api.schemas.values import IdPath
from connectory.services import connector_parameters
from connectory.services.secret_store import SecretBox

router = APIRouter(route_class=StrictJSONRoute, prefix="/connectors", tags=["connectors"])


@router.get(
    "/{connector_id}/parameters",
    response_model=ConnectorParametersOut,
    responses=error_responses(403, 404),
    summary="Which connector parameters are set",
)
async def get_parameters(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ConnectorParametersOut:
    """Name -> whether a value is set. Values are write-only."""
    status = await connector_parameters.parameter_status(session, principal, connector_id)
    return ConnectorParametersOut(parameters=status)


@router.put(
    "/{connector_id}/parameters",
    response_model=ConnectorParametersOut,
    responses=error_responses(403, 404),
    summary="Set connector parameters",
)
async def set_parameters(
    connector_id: IdPath,
    body: ConnectorParametersUpdate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ConnectorParametersOut:
    """Set values (null removes one); they are encrypted and never shown again."""
    box: SecretBox = request.app.state.secret_box
    status = await connector_parameters.set_parameters(
        session, principal, box, connector_id, dict(body.values)
    )
    await session.commit()
    return ConnectorParametersOut(parameters=status)
