"""Calling ``subscribe``, ``refresh`` and ``unsubscribe``: an operation plus mappings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import EventError, TemplateError
from connectory.events.handling import parse_time
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
from connectory.services.connections import ConnectionDetails, load_credentials
from connectory.services.events.context import EventsContext
from connectory.services.secret_store import read_secrets
from connectory.spec.events import CallSpec
from connectory.store.event_models import EventSubscription
from connectory.templating import compile_template


async def secret_variables(
    context: EventsContext, session: AsyncSession, details: ConnectionDetails
) -> dict[str, Any]:
    """``credentials`` and ``connector_parameters`` for templates (decrypted, never logged)."""
    return {
        "credentials": await load_credentials(session, context.box, details),
        "connector_parameters": await read_secrets(
            session, context.box, CONNECTOR_PARAMETERS_OWNER, details.connector.id
        ),
    }


async def _call_method(
    context: EventsContext,
    session: AsyncSession,
    details: ConnectionDetails,
    subscription: EventSubscription,
    call: CallSpec,
    variables: dict[str, Any],
) -> tuple[dict[str, str], datetime | None]:
    """A JavaScript subscribe/refresh/unsubscribe: ``{state, expires_at}`` back."""
    assert call.method is not None
    given = {key: variables[key] for key in ("webhook_url", "state", "config")}
    async with await context.runtimes.acquire(session, details) as client:
        result = await client.run_method(
            call.method, parameters=subscription.parameters, input=given
        )
    if result is None:
        return {}, None
    if not isinstance(result, dict):
        raise EventError("the method must return an object {state, expires_at} (or nothing)")
    state = result.get("state") or {}
    if not isinstance(state, dict):
        raise EventError("the method's state must be an object")
    expires_text = result.get("expires_at")
    expires = parse_time(str(expires_text)) if expires_text else None
    if expires_text and expires is None:
        raise EventError(f"expires_at {expires_text!r} is not a time (ISO 8601 or Unix seconds)")
    return {str(k): v for k, v in state.items()}, expires


def _intake_url(context: EventsContext, subscription: EventSubscription) -> str:
    from connectory.services.events.subscriptions import intake_url

    url = intake_url(context.public_url, subscription.intake_token)
    if url is None:
        raise EventError("CONNECTORY_PUBLIC_URL is not set: there is no URL to register")
    return url


def _render_all(templates: dict[str, str], variables: dict[str, Any], what: str) -> dict[str, str]:
    rendered: dict[str, str] = {}
    for name, source in templates.items():
        try:
            rendered[name] = compile_template(source).render(variables)
        except TemplateError as error:
            raise EventError(f"{what} {name!r}: {error}") from None
    return rendered


async def call_subscription_method(
    context: EventsContext,
    session: AsyncSession,
    details: ConnectionDetails,
    subscription: EventSubscription,
    call: CallSpec,
) -> tuple[dict[str, str], datetime | None]:
    """Call *call*'s operation for *subscription*; return the state to keep and the expiry.

    Raises:
        EventError: a template cannot be rendered, or the expiry is unreadable.
        ConnectoryError: the operation failed (auth, upstream error, timeout...).
    """
    variables: dict[str, Any] = {
        "webhook_url": _intake_url(context, subscription) if subscription.kind == "webhook" else "",
        "parameters": subscription.parameters,
        "state": subscription.state.get("values", {}),
        "config": details.connection.config,
        **await secret_variables(context, session, details),
    }
    if call.method is not None:
        return await _call_method(context, session, details, subscription, call, variables)
    assert call.operation is not None
    params = _render_all(call.input, variables, "input")
    async with await context.runtimes.acquire(session, details) as client:
        result = await client.call(call.operation, params)
    variables["response"] = result.body
    values = _render_all(call.state, variables, "state")
    expires: datetime | None = None
    if call.expires_at is not None:
        text = _render_all({"expires_at": call.expires_at}, variables, "")["expires_at"]
        expires = parse_time(text)
        if text and expires is None:
            raise EventError(f"expires_at {text!r} is not a time (ISO 8601 or Unix seconds)")
    elif call.expires_in is not None:
        text = _render_all({"expires_in": call.expires_in}, variables, "")["expires_in"]
        try:
            expires = context.now() + timedelta(seconds=float(text))
        except ValueError:
            raise EventError(f"expires_in {text!r} is not a number of seconds") from None
    return values, expires
