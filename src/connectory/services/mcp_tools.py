"""A connection's tools for AI agents: its policy, what a caller is offered, and running one.

Three gates, in this order, for every tool call (the MCP endpoint and anything later use these):

1. **Tenancy**: the connection must be one the caller can see (another enterprise's is 404).
2. **Policy**: the connection's tool policy (``mcp_policy``, read-only by default) must offer the
   tool; write tools only when named in ``allow_writes``.
3. **Role**: viewers run only safe operations and never write records (``services.access``).

A tool call then runs through the connection's leased client (the runtime: resilience, egress
guard, redaction), like any other call of the connection: it is one entry of the connection's
call log (kind ``mcp``, the tool's name as its operation; a call the gates refuse is an error
entry too, so an agent's attempts are on record), and it updates the connection's health as a
REST operation call does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError, PermissionDenied
from connectory.services.access import check_may_run_operation, check_may_write_records
from connectory.services.connection_runs import (
    Health,
    affects_health,
    calls_without_client,
    outcome_of_error,
    record_health,
)
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import ConnectionDetails, check_may_manage_connections
from connectory.services.connections import get_connection as _get_connection
from connectory.services.principal import Principal
from connectory.store.models import utcnow
from connectory.toolkit import ToolPolicy, ToolRunner, ToolSpec, build_tools, check_policy
from connectory.toolkit.runner import ToolOutcome

#: The call log kind of a tool call.
MCP_KIND = "mcp"


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
    try:
        tool = find_tool(principal, details, name)
    except PermissionDenied as error:
        calls_without_client(runtimes, details).record(MCP_KIND, name, error=error)
        raise
    runner_budget = policy_of(details).max_result_bytes
    try:
        lease = await runtimes.acquire(session, details)
    except ConnectoryError as error:
        calls_without_client(runtimes, details).record(MCP_KIND, name, error=error)
        await _record_failure(runtimes, details, name, error)
        raise
    try:
        await session.commit()
        async with lease as client:
            with client.calls.track(MCP_KIND, name):
                outcome = await ToolRunner(client, runner_budget).run(tool, arguments)
            # An operation's error status is a result, not an error (the agent reads it).
            status = outcome.data.get("status") if tool.kind == "operation" else None
            if status in (401, 403):
                health: Health = "auth_error"
            else:
                health = await client.health()
    except ConnectoryError as error:
        await _record_failure(runtimes, details, name, error)
        raise
    finally:
        await lease.release()
    detail = f"{name}: {status}" if isinstance(status, int) else f"{name}: ok"
    await record_health(runtimes, details, health, detail, on_change=True)
    return outcome


async def _record_failure(
    runtimes: ConnectionRuntimes, details: ConnectionDetails, name: str, error: ConnectoryError
) -> None:
    """Store the health a failed tool call says the connection has (as an operation call)."""
    if affects_health(error):
        outcome = outcome_of_error(error, name)
        await record_health(runtimes, details, outcome.health, outcome.detail, on_change=True)


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
