"""``/tokens`` and ``/users/{id}/tokens``: API tokens, their secret shown once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.pagination import Page, Paging
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.identity import (
    IdRef,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    error_responses,
)
from connectory.api.schemas.values import IdPath
from connectory.services import api_tokens

router = APIRouter(route_class=StrictJSONRoute, tags=["tokens"])


@router.post(
    "/users/{user_id}/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404),
    summary="Create an API token",
)
async def create_token(
    user_id: IdPath, body: TokenCreate, session: SessionDep, principal: CurrentPrincipal
) -> TokenCreated:
    """Create a token for yourself, or for a user you manage. The secret is shown only here."""
    issued = await api_tokens.create_token(
        session, principal, user_id, name=body.name, expires_in_days=body.expires_in_days
    )
    await session.commit()
    public = TokenPublic.model_validate(issued.row)
    return TokenCreated(**public.model_dump(), secret=issued.secret)


@router.get(
    "/tokens",
    response_model=Page[TokenPublic],
    responses=error_responses(403, 404),
    summary="List API tokens",
)
async def list_tokens(
    session: SessionDep,
    principal: CurrentPrincipal,
    paging: Paging,
    user_id: Annotated[
        IdRef | None, Query(description="Whose tokens (a user you manage); yours by default.")
    ] = None,
    include_revoked: Annotated[bool, Query(description="List revoked tokens too.")] = False,
) -> Page[TokenPublic]:
    """List your tokens, or those of a user you manage (never their secrets)."""
    rows, total = await api_tokens.list_tokens(
        session,
        principal,
        limit=paging.limit,
        offset=paging.offset,
        user_id=user_id,
        include_revoked=include_revoked,
    )
    return Page(
        items=[TokenPublic.model_validate(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get(
    "/tokens/{token_id}",
    response_model=TokenPublic,
    responses=error_responses(404),
    summary="Get an API token",
)
async def get_token(
    token_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> TokenPublic:
    """Return a token's metadata: yours, or of a user you manage."""
    return TokenPublic.model_validate(await api_tokens.get_token(session, principal, token_id))


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Revoke an API token",
)
async def revoke_token(
    token_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Revoke a token at once (revoking a revoked token succeeds and changes nothing)."""
    await api_tokens.revoke_token(session, principal, token_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
