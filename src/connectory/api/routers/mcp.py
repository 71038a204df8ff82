"""``/connections/{id}/mcp-policy``: which tools a connection offers AI agents.

The MCP endpoint itself, ``/connections/{id}/mcp``, is served by :mod:`connectory.api.mcp_endpoint`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.problems import ErrorOut
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.mcp import ToolPolicyIn, ToolPolicyOut, ToolSummary
from connectory.api.schemas.values import IdPath
from connectory.services import mcp_tools
from connectory.toolkit import ToolPolicy, ToolSpec

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connections/{connection_id}/mcp-policy", tags=["mcp"]
)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        403: "Only enterprise admins change a connection's tool policy.",
        404: "No such connection (or another enterprise's).",
        422: "The policy names a tool that is not a write tool of the connector.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in statuses}


def _out(connection_id: str, policy: ToolPolicy, tools: list[ToolSpec]) -> ToolPolicyOut:
    return ToolPolicyOut(
        policy=policy,
        tools=[
            ToolSummary(
                name=tool.name,
                title=tool.title,
                kind=tool.kind,
                read_only=tool.read_only,
                offered=policy.enabled and policy.permits(tool),
            )
            for tool in tools
        ],
        endpoint=f"/connections/{connection_id}/mcp",
    )


@router.get("", response_model=ToolPolicyOut, responses=_errors(404), summary="Tool policy")
async def get_policy(
    connection_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ToolPolicyOut:
    """The connection's tool policy (read-only by default) and its connector's tools."""
    policy, tools = await mcp_tools.get_policy(session, principal, connection_id)
    return _out(connection_id, policy, tools)


@router.put(
    "", response_model=ToolPolicyOut, responses=_errors(403, 404, 422), summary="Set tool policy"
)
async def put_policy(
    connection_id: IdPath, body: ToolPolicyIn, session: SessionDep, principal: CurrentPrincipal
) -> ToolPolicyOut:
    """Replace the policy: switch tools on or off, name the write tools to offer, cap results."""
    policy, tools = await mcp_tools.set_policy(
        session, principal, connection_id, ToolPolicy.model_validate(body.model_dump())
    )
    await session.commit()
    return _out(connection_id, policy, tools)
