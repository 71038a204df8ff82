"""``/users``: platform admins manage everyone, enterprise admins their enterprise's users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.pagination import Page, Paging
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.identity import (
    IdRef,
    SearchText,
    UserCreate,
    UserPublic,
    UserUpdate,
    error_responses,
)
from connectory.api.schemas.values import IdPath
from connectory.services import users
from connectory.services.principal import Role

router = APIRouter(route_class=StrictJSONRoute, prefix="/users", tags=["users"])


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
    summary="Create a user",
)
async def create_user(
    body: UserCreate, session: SessionDep, principal: CurrentPrincipal
) -> UserPublic:
    """Create a user (platform admins: anyone; enterprise admins: their enterprise's users)."""
    new = users.NewUser(
        email=body.email,
        name=body.name,
        role=body.role,
        enterprise_id=body.enterprise_id,
        sdk_access=body.sdk_access,
    )
    user = await users.create_user(session, principal, new)
    await session.commit()
    return UserPublic.model_validate(user)


@router.get(
    "",
    response_model=Page[UserPublic],
    responses=error_responses(404),
    summary="List users",
)
async def list_users(
    session: SessionDep,
    principal: CurrentPrincipal,
    paging: Paging,
    enterprise_id: Annotated[
        IdRef | None, Query(description="Only this enterprise's users (404 if not visible).")
    ] = None,
    role: Annotated[Role | None, Query(description="Only users with this role.")] = None,
    q: Annotated[
        SearchText | None, Query(description="Email or name contains (ignoring case).")
    ] = None,
) -> Page[UserPublic]:
    """List the users the caller can see (viewers see only themselves)."""
    rows, total = await users.list_users(
        session,
        principal,
        limit=paging.limit,
        offset=paging.offset,
        enterprise_id=enterprise_id,
        role=role,
        search=q,
    )
    return Page(
        items=[UserPublic.model_validate(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get(
    "/{user_id}",
    response_model=UserPublic,
    responses=error_responses(404),
    summary="Get a user",
)
async def get_user(user_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> UserPublic:
    """Return a user the caller can see."""
    return UserPublic.model_validate(await users.get_user(session, principal, user_id))


@router.patch(
    "/{user_id}",
    response_model=UserPublic,
    responses=error_responses(403, 404, 409),
    summary="Change a user",
)
async def update_user(
    user_id: IdPath, body: UserUpdate, session: SessionDep, principal: CurrentPrincipal
) -> UserPublic:
    """Change a user's email, name, role or SDK access.

    Everyone may change their own name and email; roles and SDK access are changed by the
    user's admins, never by the user themselves.
    """
    changes = users.UserChanges(
        email=body.email, name=body.name, role=body.role, sdk_access=body.sdk_access
    )
    user = await users.update_user(session, principal, user_id, changes)
    await session.commit()
    return UserPublic.model_validate(user)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Delete a user",
)
async def delete_user(
    user_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Soft-delete a user and revoke their tokens (not yourself)."""
    await users.delete_user(session, principal, user_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
