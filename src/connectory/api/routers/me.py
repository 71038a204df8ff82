"""``GET /me``: who the caller is."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.identity import EnterprisePublic, MePublic, UserPublic
from connectory.store.models import Enterprise, User

router = APIRouter(route_class=StrictJSONRoute, tags=["me"])


@router.get("/me", response_model=MePublic, summary="Who am I")
async def get_me(session: SessionDep, principal: CurrentPrincipal) -> MePublic:
    """Return the caller's user, role, enterprise and SDK access."""
    user = await session.scalar(select(User).where(User.id == principal.user_id))
    enterprise = None
    if principal.enterprise_id is not None:
        enterprise = await session.scalar(
            select(Enterprise).where(Enterprise.id == principal.enterprise_id)
        )
    return MePublic(
        user=UserPublic.model_validate(user),
        enterprise=EnterprisePublic.model_validate(enterprise) if enterprise else None,
        can_build_connectors=principal.can_build_connectors,
    )
