"""``/enterprises``: tenants. Platform admins manage them; others read their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.pagination import Page, Paging
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.identity import (
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseUpdate,
    SearchText,
    error_responses,
)
from connectory.api.schemas.values import IdPath
from connectory.services import enterprises

router = APIRouter(route_class=StrictJSONRoute, prefix="/enterprises", tags=["enterprises"])


@router.post(
    "",
    response_model=EnterprisePublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409),
    summary="Create an enterprise",
)
async def create_enterprise(
    body: EnterpriseCreate, session: SessionDep, principal: CurrentPrincipal
) -> EnterprisePublic:
    """Create an enterprise (platform admins only)."""
    enterprise = await enterprises.create_enterprise(session, principal, body.name)
    await session.commit()
    return EnterprisePublic.model_validate(enterprise)


@router.get(
    "",
    response_model=Page[EnterprisePublic],
    summary="List enterprises",
)
async def list_enterprises(
    session: SessionDep,
    principal: CurrentPrincipal,
    paging: Paging,
    q: Annotated[SearchText | None, Query(description="Name contains (ignoring case).")] = None,
) -> Page[EnterprisePublic]:
    """List the enterprises the caller can see: all for platform admins, else their own."""
    rows, total = await enterprises.list_enterprises(
        session, principal, limit=paging.limit, offset=paging.offset, search=q
    )
    return Page(
        items=[EnterprisePublic.model_validate(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get(
    "/{enterprise_id}",
    response_model=EnterprisePublic,
    responses=error_responses(404),
    summary="Get an enterprise",
)
async def get_enterprise(
    enterprise_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> EnterprisePublic:
    """Return an enterprise the caller can see."""
    enterprise = await enterprises.get_enterprise(session, principal, enterprise_id)
    return EnterprisePublic.model_validate(enterprise)


@router.patch(
    "/{enterprise_id}",
    response_model=EnterprisePublic,
    responses=error_responses(403, 404, 409),
    summary="Rename an enterprise",
)
async def update_enterprise(
    enterprise_id: IdPath, body: EnterpriseUpdate, session: SessionDep, principal: CurrentPrincipal
) -> EnterprisePublic:
    """Change an enterprise's name (platform admins only)."""
    enterprise = await enterprises.update_enterprise(session, principal, enterprise_id, body.name)
    await session.commit()
    return EnterprisePublic.model_validate(enterprise)


@router.delete(
    "/{enterprise_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403, 404, 409),
    summary="Delete an enterprise",
)
async def delete_enterprise(
    enterprise_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Soft-delete an enterprise with no live users, connectors or connections (platform admins)."""
    await enterprises.delete_enterprise(session, principal, enterprise_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
