"""``GET /health``: is the server up and its database reachable (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from connectory import __version__
from connectory.api.routing import StrictJSONRoute

router = APIRouter(route_class=StrictJSONRoute, tags=["health"])


class HealthOut(BaseModel):
    """Server health."""

    status: str
    version: str


@router.get("/health", response_model=HealthOut, summary="Server health")
async def get_health(request: Request) -> HealthOut:
    """Answer ok when the database answers."""
    async with request.app.state.sessions() as session:
        await session.execute(text("SELECT 1"))
    return HealthOut(status="ok", version=__version__)
