"""A connection's tools for AI agents: its policy, what a caller is offered, and running one.

Three gates, in this order, for every tool call (the MCP endpoint and anything later use these):

1. **Tenancy**: the connection must be one the caller can see (another enterprise's is 404).
2. **Policy**: the connection's tool policy (``mcp_policy``, read-only by default) must offer the
   tool; write tools only when named in ``allow_writes``.
3. **Role**: viewers run only safe operations and never write records (``services.access``).

A tool call then runs through the connection's leased client (the runtime: resilience, egress
guard, redaction), like any other call of the connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError, PermissionDenied
from connectory.services.access import check_may_run_operation, check_may_write_records
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import ConnectionDetails, check_may_manage_connections
from connectory.services.connections import get_connection as _get_connection
from connectory.services.principal import Principal
from connectory.store.models import utcnow
from connectory.toolkit import ToolPolicy, ToolRunner, ToolSpec, build_tools, check_policy
from connectory.toolkit.runner import ToolOutcome


def policy_of(details: ConnectionDetails) -> ToolPolicy:
    """The connection's stored tool policy (the default, read-only, when none is stored)."""
    stored = details.connection.mcp_policy
    return ToolPolicy.model_validate(stored) if stored else ToolPolicy()


def check_role(principal: Principal, tool: ToolSpec, details: ConnectionDetails) -> None:
    """Raise PermissionDenied unless the caller's role may run *tool*."""
    if tool.kind == "operation":
        operation = details.spec.operation(tool.target)
        if operation is not None:
            check_may_run_operation(principal, operation)
    elif not tool.read_only:
        check_may_write_records(principal, tool.target, tool.method or "")


def offered_tools(principal: Principal, details: ConnectionDetails) -> list[ToolSpec]:
    """The tools *principal* is offered on the connection: policy and role both allow them."""
    policy = policy_of(details)
    if not policy.enabled:
        return []
    offered = []
    for tool in policy.offered(build_tools(details.spec)):
        try:
            check_role(principal, tool, details)
        except PermissionDenied:
            continue
        offered.append(tool)
    return offered


def check_enabled(details: ConnectionDetails) -> None:
    """Raise PermissionDenied when the connection's tools are switched off."""
    if not policy_of(details).enabled:
        raise PermissionDenied(
            "this connection's tools are switched off (its tool policy has enabled: false); "
            "an enterprise admin can switch them on"
        )


def find_tool(principal: Principal, details: ConnectionDetails, name: str) -> ToolSpec:
    """The tool *name*, when policy and role let *principal* run it.

    Raises:
        PermissionDenied: no such tool, a write tool the policy does not allow, or a tool the
            caller's role may not run. Nothing is sent upstream.
    """
    check_enabled(details)
    policy = policy_of(details)
    tools = build_tools(details.spec)
    tool = next((candidate for candidate in tools if candidate.name == name), None)
    if tool is None:
        offered = ", ".join(t.name for t in offered_tools(principal, details)) or "none"
        raise PermissionDenied(f"no tool '{name}' is offered on this connection; tools: {offered}")
    if not policy.permits(tool):
        raise PermissionDenied(
            f"'{name}' changes data upstream and this connection's tool policy does not allow "
            "it (tools are read-only unless a write tool is named in allow_writes; an enterprise "
            "admin can add it)"
        )
    check_role(principal, tool, details)
    return tool


async def call_tool(
    session: AsyncSession,
    runtimes: ConnectionRuntimes,
    principal: Principal,
    connection_id: str,
    name: str,
    arguments: dict[str, Any] | None,
) -> ToolOutcome:
    """Run tool *name* on a connection the caller can see, through its leased client.

    The session's transaction is ended before the upstream is called.

    Raises:
        NotFound: no such connection (or another enterprise's).
        PermissionDenied: the policy or the caller's role does not allow the tool.
        ConnectoryError: whatever the call raises (bad arguments, upstream failures).
    """
    details = await _get_connection(session, principal, connection_id)
    tool = find_tool(principal, details, name)
    runner_budget = policy_of(details).max_result_bytes
    lease = await runtimes.acquire(session, details)
    try:
        await session.commit()
        async with lease as client:
            return await ToolRunner(client, runner_budget).run(tool, arguments)
    except ConnectoryError:
        raise
    finally:
        await lease.release()


async def get_policy(
    session: AsyncSession, principal: Principal, connection_id: str
) -> tuple[ToolPolicy, list[ToolSpec]]:
    """The connection's policy and every tool of its connector (with which ones only read)."""
    details = await _get_connection(session, principal, connection_id)
    return policy_of(details), build_tools(details.spec)


async def set_policy(
    session: AsyncSession, principal: Principal, connection_id: str, policy: ToolPolicy
) -> tuple[ToolPolicy, list[ToolSpec]]:
    """Store a connection's tool policy (enterprise admins).

    Raises:
        PermissionDenied: the caller is not an enterprise admin.
        InvalidRequest: ``allow_writes`` names a tool that is not a write tool of the connector.
    """
    details = await _get_connection(session, principal, connection_id)
    check_may_manage_connections(principal)
    tools = build_tools(details.spec)
    check_policy(policy, tools)
    details.connection.mcp_policy = policy.model_dump()
    details.connection.updated_at = utcnow()
    await session.flush()
    return policy, tools
