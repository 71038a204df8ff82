"""The OAuth2 authorization code flow: starting it, and the callback that completes it.

Starting (an enterprise admin in the builder or through the API, or a person holding a
connect link) stores an :class:`~connectory.store.models.OAuthFlow` and returns the provider's
authorize URL. The flow's ``state`` is random, single-use, expires in minutes, and is stored
only as a hash; it is bound to the enterprise, the user who started it (a link's creator),
the connector version, the PKCE verifier (a secret of owner :data:`FLOW_OWNER`) and the
browser (a hash of its flow cookie, :data:`FLOW_COOKIE`).

The callback finds the flow by the state's hash and refuses, with a clear outcome and no
change to any connection: an unknown (forged) state, a used (replayed) one, an expired one,
one started in another browser (another tenant's, or an attacker's: the cookie does not
match), a provider error such as ``access_denied``, and a code the provider will not
exchange. Otherwise it exchanges the code (PKCE), stores the grant encrypted and creates the
connection, or re-authorizes an existing one, in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.auth.grants import TOKEN_FIELDS, TokenSet
from connectory.auth.pkce import new_verifier, s256_challenge
from connectory.errors import (
    Conflict,
    ConnectoryError,
    FieldIssue,
    InvalidRequest,
)
from connectory.runtime.inputs import check_fields
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import (
    CREDENTIALS_OWNER,
    check_may_manage_connections,
    find_published_version,
    get_connection,
    insert_connection,
    spec_of,
)
from connectory.services.oauth_grants import store_grant
from connectory.services.principal import Principal
from connectory.services.secret_store import (
    SecretBox,
    delete_secrets,
    read_secrets,
    write_secrets,
)
from connectory.services.sensitive_defaults import runtime_spec
from connectory.spec.auth import OAuth2AuthSpec
from connectory.spec.connector import ConnectorSpec
from connectory.spec.fields import InputFieldSpec
from connectory.store.models import (
    Connection,
    Connector,
    ConnectorVersion,
    Enterprise,
    OAuthFlow,
    User,
    utcnow,
)

logger = logging.getLogger("connectory.oauth")

#: Owner type of a flow's secrets (the PKCE verifier, sensitive credentials) until it ends.
FLOW_OWNER = "oauth_flow"
#: The browser's flow cookie: short-lived, HttpOnly, SameSite=Lax (the provider's redirect
#: back is a cross-site top-level GET, which carries Lax cookies but not the Strict session).
FLOW_COOKIE = "connectory_oauth_flow"
#: The one redirect URI of a deployment, under its public URL.
CALLBACK_PATH = "/oauth/callback"
#: Used and expired flows are kept this long, so a replay is told apart from a forgery.
_KEEP_ENDED = timedelta(days=1)
_CREDENTIAL = "credential."
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def hash_secret(value: str) -> str:
    """SHA-256 of a state, cookie or link token: what is stored instead of the value."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def new_browser_secret() -> str:
    """A fresh value for the flow cookie."""
    return secrets.token_urlsafe(32)


def redirect_uri_of(public_url: str | None) -> str:
    """``<public_url>/oauth/callback``: the redirect URI to register with providers.

    Raises:
        Conflict: the deployment has no public URL (a setting, not the caller's mistake).
    """
    if not public_url:
        raise Conflict(
            "this deployment has no public URL, so providers cannot send a person back; set "
            "CONNECTORY_PUBLIC_URL (e.g. https://connectory.example.com)"
        )
    return public_url.rstrip("/") + CALLBACK_PATH


def flow_credential_schema(spec: ConnectorSpec) -> dict[str, InputFieldSpec]:
    """The credential fields a person enters before authorizing (never the tokens)."""
    return {
        name: field
        for name, field in spec.auth.credential_schema.items()
        if name not in TOKEN_FIELDS
    }


def check_authorization_code(spec: ConnectorSpec) -> OAuth2AuthSpec:
    """The connector's OAuth2 section, if a person can authorize it.

    Raises:
        InvalidRequest: the connector is not OAuth2 authorization code.
    """
    auth = spec.auth
    if (
        not isinstance(auth, OAuth2AuthSpec)
        or auth.grant_type != "authorization_code"
        or not auth.authorization_url
    ):
        message = (
            f"connector '{spec.slug}' does not use the OAuth2 authorization code grant; "
            "create the connection with its credentials instead"
        )
        raise InvalidRequest(message, [FieldIssue(("body", "connector_id"), message)])
    return auth


def allowed_return_url(url: str | None, allowlist: list[str]) -> str | None:
    """*url* if a person may be sent there, else None (the outcome page is shown).

    A path on this deployment (``/ui/...``) is always allowed; an absolute URL must match
    an entry of the enterprise's allowlist in scheme and host and start with its path.
    """
    if not url:
        return None
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "\\" in url:
        return None
    for allowed in allowlist:
        entry = urlsplit(allowed)
        if (entry.scheme, entry.netloc.lower()) != (parts.scheme, parts.netloc.lower()):
            continue
        # A path prefix matches whole segments: /integrations, not /integrations-evil.
        prefix = entry.path.rstrip("/")
        if parts.path == prefix or parts.path.startswith(prefix + "/"):
            return url
    return None


def with_outcome(url: str, outcome: dict[str, str]) -> str:
    """*url* with the outcome added to its query."""
    joiner = "&" if urlsplit(url).query else "?"
    fragment = ""
    if "#" in url:
        url, fragment = url.split("#", 1)
        fragment = "#" + fragment
    return url + joiner + urlencode(outcome) + fragment


@dataclass
class FlowStart:
    """A started flow: where to send the browser."""

    authorize_url: str
    redirect_uri: str
    expires_at: datetime


@dataclass
class FlowOutcome:
    """How a callback ended, for the outcome page or the return URL."""

    ok: bool
    code: str
    title: str
    message: str
    connection_id: str | None = None
    connection_name: str | None = None
    connector_name: str | None = None
    return_url: str | None = None

    def query(self) -> dict[str, str]:
        """The outcome as return URL query parameters."""
        if self.ok:
            assert self.connection_id is not None
            return {"connectory_status": self.code, "connection_id": self.connection_id}
        return {"connectory_status": "error", "connectory_error": self.code}


def _failure(code: str, title: str, message: str, return_url: str | None = None) -> FlowOutcome:
    return FlowOutcome(False, code, title, message, return_url=return_url)


def _split_credentials(
    schema: dict[str, InputFieldSpec], given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    resolved, problems = check_fields(schema, given, "credential")
    if problems:
        raise InvalidRequest(
            "the credentials do not match the connector's credential schema",
            [FieldIssue(("body", "credentials", name), message) for name, message in problems],
        )
    public = {k: v for k, v in resolved.items() if not schema[k].is_sensitive}
    hidden = {k: str(v) for k, v in resolved.items() if schema[k].is_sensitive}
    return public, hidden


async def start_flow(
    session: AsyncSession,
    box: SecretBox,
    runtimes: ConnectionRuntimes,
    principal: Principal,
    *,
    public_url: str | None,
    browser_secret: str,
    lifetime: timedelta,
    connector_id: str | None = None,
    version: str | None = None,
    connection_id: str | None = None,
    name: str | None = None,
    credentials: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    return_url: str | None = None,
    connect_link_id: str | None = None,
) -> FlowStart:
    """Start authorizing a new connection (or *connection_id* again) for *principal*.

    Raises:
        PermissionDenied: not an enterprise admin.
        NotFound: the connector or connection is not the caller's to use.
        InvalidRequest: not an authorization code connector; credential issues.
        Conflict: the deployment has no public URL.
    """
    check_may_manage_connections(principal)
    assert principal.enterprise_id is not None
    if connection_id is not None:
        details = await get_connection(session, principal, connection_id)
        connector, found, spec = details.connector, details.version, details.spec
        check_authorization_code(spec)
        stored = await read_secrets(session, box, CREDENTIALS_OWNER, details.connection.id)
        public: dict[str, Any] = dict(details.connection.public_credentials)
        hidden = {k: v for k, v in stored.items() if k not in TOKEN_FIELDS}
        name, config = details.connection.name, details.connection.config
    else:
        if connector_id is None:
            raise InvalidRequest(
                "give connector_id (a new connection) or connection_id (authorize it again)",
                [FieldIssue(("body", "connector_id"), "connector_id or connection_id is needed")],
            )
        connector, found = await find_published_version(session, principal, connector_id, version)
        spec = spec_of(found)
        check_authorization_code(spec)
        public, hidden = _split_credentials(flow_credential_schema(spec), credentials or {})
        config = config or {}
    auth = check_authorization_code(spec)
    redirect_uri = redirect_uri_of(public_url)
    verifier = new_verifier() if auth.pkce else None
    state = secrets.token_urlsafe(32)
    client = runtimes.build_client(
        await runtime_spec(session, box, found.id, spec),
        credentials={**public, **hidden},
        connector_parameters=await runtimes.connector_parameters(
            session, spec, connector.id, principal.enterprise_id
        ),
        config=config,
        connector_id=connector.id,
        enterprise_id=principal.enterprise_id,
    )
    try:
        authorize_url = client.oauth2.authorization_url(
            state, redirect_uri, s256_challenge(verifier) if verifier else None
        )
    finally:
        await client.aclose()
    now = utcnow()
    flow = OAuthFlow(
        state_hash=hash_secret(state),
        browser_hash=hash_secret(browser_secret),
        enterprise_id=principal.enterprise_id,
        user_id=principal.user_id,
        connector_id=connector.id,
        version_id=found.id,
        connection_id=connection_id,
        connect_link_id=connect_link_id,
        name=name or connector.name,
        public_credentials=public,
        config=config,
        redirect_uri=redirect_uri,
        return_url=return_url,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(flow)
    await session.flush()
    flow_secrets: dict[str, str | None] = {_CREDENTIAL + k: v for k, v in hidden.items()}
    if verifier is not None:
        flow_secrets["code_verifier"] = verifier
    await write_secrets(session, box, FLOW_OWNER, flow.id, flow_secrets)
    await purge_ended_flows(session, now)
    return FlowStart(authorize_url, redirect_uri, flow.expires_at)


async def purge_ended_flows(session: AsyncSession, now: datetime) -> int:
    """Delete flows that ended over a day ago (and any secrets they still hold)."""
    ended = list(
        await session.scalars(select(OAuthFlow.id).where(OAuthFlow.expires_at < now - _KEEP_ENDED))
    )
    for flow_id in ended:
        await delete_secrets(session, FLOW_OWNER, flow_id)
    if ended:
        await session.execute(delete(OAuthFlow).where(OAuthFlow.id.in_(ended)))
    return len(ended)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


async def complete_flow(
    session: AsyncSession,
    box: SecretBox,
    runtimes: ConnectionRuntimes,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
    browser_secret: str | None,
) -> FlowOutcome:
    """Complete a flow from the provider's redirect back (the callback's query and cookie)."""
    if not state or len(state) > 512:
        return _failure(
            "invalid_state",
            "This authorization cannot be completed",
            "The link back from the provider has no valid state. Start again from Connectory.",
        )
    flow = await session.scalar(select(OAuthFlow).where(OAuthFlow.state_hash == hash_secret(state)))
    if flow is None:
        return _failure(
            "invalid_state",
            "This authorization cannot be completed",
            "Connectory did not start this authorization (the state is unknown). Nothing was "
            "changed; start again from Connectory.",
        )
    enterprise = await session.get(Enterprise, flow.enterprise_id)
    allowlist = list(enterprise.return_urls) if enterprise is not None else []
    return_url = allowed_return_url(flow.return_url, allowlist)
    if flow.used_at is not None:
        return _failure(
            "replayed",
            "This authorization was already completed",
            "This link back from the provider was used before; it works once. Nothing was changed.",
            return_url,
        )
    if _aware(flow.expires_at) <= utcnow():
        return _failure(
            "expired",
            "This authorization expired",
            "It took too long to come back from the provider. Nothing was changed; start again.",
            return_url,
        )
    if browser_secret is None or hash_secret(browser_secret) != flow.browser_hash:
        return _failure(
            "other_browser",
            "This authorization was started elsewhere",
            "This authorization was not started in this browser, so Connectory will not "
            "complete it here. Nothing was changed; start again from Connectory in this browser.",
        )
    # Single use, also against a concurrent replay: only one request marks it used.
    claimed = await session.execute(
        update(OAuthFlow)
        .where(OAuthFlow.id == flow.id, OAuthFlow.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    flow_secrets = await read_secrets(session, box, FLOW_OWNER, flow.id)
    await delete_secrets(session, FLOW_OWNER, flow.id)
    await session.commit()
    if getattr(claimed, "rowcount", 1) != 1:
        return _failure(
            "replayed",
            "This authorization was already completed",
            "This link back from the provider was used before; it works once. Nothing was changed.",
            return_url,
        )
    if error is not None:
        shown = error if _ERROR_CODE.match(error) else "error"
        reason = (
            "You (or the provider) declined the authorization."
            if shown == "access_denied"
            else f"The provider answered {shown}."
        )
        if error_description:
            reason += f" It said: {error_description[:200]}"
        return _failure(
            shown, "The authorization was not granted", reason + " Nothing was changed.", return_url
        )
    if not code or len(code) > 4096:
        return _failure(
            "no_code",
            "The provider sent no authorization code",
            "Nothing was changed; start again.",
            return_url,
        )
    return await _finish(session, box, runtimes, flow, flow_secrets, code, return_url)


async def _finish(
    session: AsyncSession,
    box: SecretBox,
    runtimes: ConnectionRuntimes,
    flow: OAuthFlow,
    flow_secrets: dict[str, str],
    code: str,
    return_url: str | None,
) -> FlowOutcome:
    principal = await _principal_of(session, flow)
    connector = await session.get(Connector, flow.connector_id)
    version = await session.get(ConnectorVersion, flow.version_id)
    if principal is None or connector is None or version is None or connector.deleted_at:
        return _failure(
            "not_allowed",
            "The connection cannot be made",
            "The person who started this authorization may no longer create connections, or "
            "the connector was removed. Nothing was changed.",
            return_url,
        )
    spec = spec_of(version)
    hidden = {
        name.removeprefix(_CREDENTIAL): value
        for name, value in flow_secrets.items()
        if name.startswith(_CREDENTIAL)
    }
    try:
        client = runtimes.build_client(
            await runtime_spec(session, box, version.id, spec),
            credentials={**flow.public_credentials, **hidden},
            connector_parameters=await runtimes.connector_parameters(
                session, spec, connector.id, flow.enterprise_id
            ),
            config=flow.config,
            connector_id=connector.id,
            enterprise_id=flow.enterprise_id,
        )
        await session.commit()  # no database connection held while the provider answers
        async with client:
            grant = await client.oauth2.exchange_code(
                code, flow.redirect_uri, flow_secrets.get("code_verifier")
            )
    except ConnectoryError as failure:
        logger.info("OAuth flow %s: the code exchange failed: %s", flow.id, failure)
        return _failure(
            "exchange_failed",
            "The provider did not complete the authorization",
            f"Connectory could not exchange the authorization code: {failure}. Nothing was "
            "changed; start again.",
            return_url,
        )
    return await _store(
        session, box, principal, flow, connector, version, hidden, grant, return_url
    )


async def _store(
    session: AsyncSession,
    box: SecretBox,
    principal: Principal,
    flow: OAuthFlow,
    connector: Connector,
    version: ConnectorVersion,
    hidden: dict[str, str],
    grant: TokenSet,
    return_url: str | None,
) -> FlowOutcome:
    from connectory.services.connect_links import claim_link

    if flow.connection_id is not None:
        connection = await session.scalar(
            select(Connection).where(
                Connection.id == flow.connection_id,
                Connection.enterprise_id == flow.enterprise_id,
                Connection.deleted_at.is_(None),
            )
        )
        if connection is None:
            return _failure(
                "not_allowed",
                "The connection no longer exists",
                "It was deleted while you were authorizing. Nothing was changed.",
                return_url,
            )
        connection.health, connection.health_detail = "unknown", "authorized again; not tested"
        connection.updated_at = utcnow()
        outcome_code, title = "reauthorized", "Authorized again"
    else:
        details = await insert_connection(
            session,
            box,
            principal,
            connector=connector,
            version=version,
            name=flow.name,
            public=dict(flow.public_credentials),
            secrets=dict(hidden),
            config=dict(flow.config),
        )
        connection = details.connection
        outcome_code, title = "connected", "Connected"
    if flow.connect_link_id is not None and not await claim_link(
        session, flow.connect_link_id, connection.id
    ):
        await session.rollback()
        return _failure(
            "link_unavailable",
            "This connect link cannot be used any more",
            "It was used, revoked or expired while you were authorizing. Nothing was changed.",
            return_url,
        )
    await store_grant(session, box, connection.id, grant, refreshed=False)
    await session.commit()
    return FlowOutcome(
        True,
        outcome_code,
        title,
        f"{connector.name} is connected as “{connection.name}”. You can close this page.",
        connection_id=connection.id,
        connection_name=connection.name,
        connector_name=connector.name,
        return_url=return_url,
    )


async def _principal_of(session: AsyncSession, flow: OAuthFlow) -> Principal | None:
    """Who started the flow, if they still may create connections in its enterprise."""
    user = await session.get(User, flow.user_id)
    if (
        user is None
        or user.deleted_at is not None
        or user.role != "enterprise_admin"
        or user.enterprise_id != flow.enterprise_id
    ):
        return None
    return Principal(user.id, "enterprise_admin", user.enterprise_id, user.sdk_access)
