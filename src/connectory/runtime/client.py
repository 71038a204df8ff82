"""The connector client: call operations and read records of one connection.

One :class:`ConnectorClient` is one connection: a connector spec plus credentials, connector
parameters and config. It validates inputs, builds requests, applies auth, sends them through
the resilience pipeline, decodes and checks responses, and streams paginated records.
"""

from __future__ import annotations

import functools
import http
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Literal

import httpx

from connectory.addresses import check_url_host
from connectory.auth import (
    AuthContext,
    Authenticator,
    OAuth2Auth,
    TokenKeeper,
    TokenSet,
    create_authenticator,
    secret_keys_of,
    secret_locations,
)
from connectory.errors import (
    AttemptInfo,
    AuthError,
    CollectionNotFound,
    InputError,
    InvalidURL,
    OperationNotFound,
    PaginationError,
    ResponseSchemaError,
    UpstreamError,
)
from connectory.http.redaction import (
    Redactor,
    install_httpx_log_redaction,
    start_redacting_logs,
    stop_redacting_logs,
)
from connectory.http.reply import Reply
from connectory.http.request import PreparedRequest
from connectory.http.transport import default_transport
from connectory.http.wire import AdaptiveWire, Outgoing, create_wire
from connectory.observability.calls import CallTrack, ConnectionCalls, Telemetry, current_call
from connectory.resilience import (
    IDEMPOTENT_METHODS,
    Clock,
    Health,
    Observer,
    ResiliencePipeline,
    SystemClock,
    wait_hint,
)
from connectory.runtime.inputs import resolve_fields
from connectory.runtime.pacing import (
    ReadPacing,
    combine_observers,
    current_pacing,
    pacing_requests,
)
from connectory.runtime.pagination import NextPage, PagePosition, PageView, create_paginator
from connectory.runtime.pagination.links import origin_of, same_origin
from connectory.runtime.records import extract_records
from connectory.runtime.request import OperationPlan
from connectory.runtime.response import decode_body, decode_error_body, decode_json_page
from connectory.runtime.results import OperationResult, Page, SentRequest
from connectory.runtime.schema_validation import schema_registry_for
from connectory.spec.connector import ConnectorSpec
from connectory.spec.resilience import RateLimitScope, ResilienceOverrideSpec, ResilienceSpec
from connectory.templating import compile_template

if TYPE_CHECKING:
    from connectory.collections import Collection
    from connectory.js import JsEngine
    from connectory.runtime.client_code import ClientCode
    from connectory.runtime.code import CallTrace
    from connectory.spec.code import CodeRefSpec

logger = logging.getLogger("connectory.runtime")
#: One DEBUG line per request sent (method, redacted URL, status, time): `connectory call -v`
#: turns this logger on alone; servers keep it off unless asked for DEBUG.
request_logger = logging.getLogger("connectory.runtime.requests")

#: Default cap on one response body. Larger bodies are refused without being read whole.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

ResponseValidation = Literal["off", "warn", "strict"]

_USER_AGENT = "connectory/0.1"
_IDEMPOTENCY_HEADERS = frozenset({"idempotency-key", "x-idempotency-key"})

#: Origins whose host passed the ambiguous-address check, remembered per client.
_MAX_CHECKED_ORIGINS = 64

#: A single call (outside a read): waits count against its timeout.
_UNPACED = ReadPacing(max_pause=None)


#: Sees each page's decoded body, status and number before its records are extracted.
PageInspector = Callable[[Any, int, int], None]


class ConnectorClient:
    """Calls the operations of one connector with one set of credentials.

    Use it as an async context manager so its HTTP connections are closed::

        async with ConnectorClient(spec, credentials={"api_key": "..."}) as client:
            result = await client.call("get_current_weather", {"q": "London"})
            async for record in client.iter_records("list_items"):
                ...

    Args:
        spec: The connector.
        credentials: Values for the auth section's ``credential_schema``.
        connector_parameters: Values for the connector's ``parameters``.
        config: Non-secret connection settings, available to templates as ``config``.
        base_url: Overrides the connector's base URL (a test server, a sandbox, a region).
        resilience: Per-connection overrides of the connector's resilience settings.
        response_validation: ``warn`` (default) reports schema mismatches on the result,
            ``strict`` raises :class:`ResponseSchemaError`, ``off`` skips the check.
        max_response_bytes: Largest response body accepted.
        transport: An httpx transport (tests pass ``httpx.MockTransport``); by default httpx's
            own, then aiohttp once the client is busy (see :mod:`connectory.http.transport`).
        clock: Monotonic seconds; injectable for tests.
        on_tokens: Called with refreshed OAuth2 tokens so they can be stored.
        pipeline: A shared resilience pipeline (a server shares one across connections);
            by default the client has its own, in memory.
        connection_key: The connection's id in the pipeline (breaker, rate limit, pauses);
            by default a fresh one, so a client without a stored connection is its own.
        connector_key: The connector's id in the pipeline, for ``connector_rate_limit``: ids
            that cannot collide across owners (a server passes the connector's database id,
            never its slug). Default ``local/<slug>``, for a client without a server.
        tenant_key: Who owns the connection (the server passes the enterprise id). With
            ``connector_rate_limit_scope: enterprise`` (the default) each tenant has its own
            connector budget; with ``deployment`` all share the connector's.
        observer: Receives the resilience events of every call.
        js_engine: Runs the connector's JavaScript (hooks, methods); by default the client
            starts its own in-process engine when the connector has code. Its instances are
            pooled per ``tenant_key``: one tenant's code never shares one with another's.
        tokens: The OAuth2 grant stored with the connection (authorization code flow).
        token_keeper: Stores refreshed grants and serialises refreshes across processes
            (see :mod:`connectory.auth.grants`).
        telemetry: Where the connection's calls are recorded, counted and traced (the
            server's call log, metrics and tracing); see :attr:`calls`. None: nowhere.

    Raises:
        CredentialsError: credentials or connector parameters do not match their schema.
        TemplateError: a template needs a value that was not given.
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        *,
        credentials: Mapping[str, Any] | None = None,
        connector_parameters: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        base_url: str | None = None,
        resilience: ResilienceOverrideSpec | Mapping[str, Any] | None = None,
        response_validation: ResponseValidation = "warn",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] | Clock = time.monotonic,
        on_tokens: Callable[[dict[str, str]], Awaitable[None]] | None = None,
        pipeline: ResiliencePipeline | None = None,
        connection_key: str | None = None,
        connector_key: str | None = None,
        tenant_key: str | None = None,
        observer: Observer | None = None,
        js_engine: JsEngine | None = None,
        tokens: TokenSet | None = None,
        token_keeper: TokenKeeper | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.spec = spec
        # Code (hooks, methods) sees a virtual clock's time too: replay runs it at the moment
        # of the recording.
        self._wall_clock: Callable[[], float] | None = None
        if isinstance(clock, Clock):
            self._clock: Callable[[], float] = clock.monotonic
            self.pipeline = pipeline or ResiliencePipeline(clock=clock)
            if not isinstance(clock, SystemClock):
                self._wall_clock = clock.time
        else:
            self._clock = clock
            self.pipeline = pipeline or ResiliencePipeline()
        # Breaker, rate limit and pauses are per connection; a client without a stored
        # connection is a connection of its own.
        self.connection_key = connection_key or f"{spec.slug}/{uuid.uuid4().hex}"
        self.connector_key = connector_budget_key(
            connector_key or f"local/{spec.slug}",
            tenant_key,
            spec.resilience.connector_rate_limit_scope,
        )
        # What a list cursor is bound to: the stored connection, or for a client without one
        # the connector and the base URL (never a credential, not even hashed).
        self._binding_key = connection_key
        self._observer = observer
        resolved_credentials = resolve_fields(
            spec.auth.credential_schema, credentials or {}, "credential"
        )
        resolved_parameters = resolve_fields(
            spec.parameters, connector_parameters or {}, "connector parameter"
        )
        self.redactor = Redactor(
            _sensitive_values(spec.auth.credential_schema, resolved_credentials)
            + _sensitive_values(spec.parameters, resolved_parameters)
        )
        #: The keys of each template root that hold secrets: where a template puts them, the
        #: header or query parameter is redacted whole (see :mod:`connectory.http.redaction`).
        self._secret_keys = secret_keys_of(spec)
        self._variables: dict[str, Any] = {
            "credentials": resolved_credentials,
            "connector_parameters": resolved_parameters,
            "config": dict(config or {}),
        }
        base_template = base_url or spec.base_url
        self.base_url = compile_template(base_template).render(self._variables)
        self._register_secret_locations(base_template, spec.headers)
        self._headers = {
            "User-Agent": _USER_AGENT,
            "Accept": "application/json",
            **{
                name: compile_template(value).render(self._variables)
                for name, value in spec.headers.items()
            },
        }
        overrides = (
            ResilienceOverrideSpec.model_validate(resilience)
            if isinstance(resilience, Mapping)
            else resilience
        )
        self._resilience = spec.resilience.with_overrides(overrides)
        self._response_validation = response_validation
        self._max_response_bytes = max_response_bytes
        # aiohttp straight from the runtime where the transport is aiohttp's (the server's,
        # the default once a client is busy); httpx for any other transport.
        self._wire = create_wire(
            transport if transport is not None else default_transport(),
            self.redactor,
            max_response_bytes,
            self._clock,
        )
        self._plans: dict[str, OperationPlan] = {}
        self._checked_origins: set[str] = set()
        self._collections: dict[str, Collection] = {}
        self._policies: dict[str, ResilienceSpec] = {}
        self._auth: Authenticator = create_authenticator(
            spec.auth,
            AuthContext(
                variables=self._variables,
                base_url=self.base_url,
                redactor=self.redactor,
                send=self._send_token_request,
                clock=self._clock,
                on_tokens=on_tokens,
                secret_keys=self._secret_keys,
                tokens=tokens,
                keeper=token_keeper,
            ),
        )
        # httpx logs each request URL at INFO; _send keeps this connection's secrets out of it.
        install_httpx_log_redaction()
        self._has_code = spec.has_code
        self._js_engine = js_engine
        self._tenant = tenant_key or "local"
        self._code: ClientCode | None = None
        #: The connection's call log: ``with client.calls.track(kind, operation):`` records a
        #: call; requests sent inside count as its attempts (see connectory.observability).
        self.calls = ConnectionCalls(
            telemetry,
            self.connection_key,
            redactor=self.redactor,
            enterprise_id=tenant_key,
            connector_id=connector_key,
        )
        self._propagate_trace = spec.propagate_trace

    async def __aenter__(self) -> ConnectorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (and the JavaScript engine the client started)."""
        await self._wire.aclose()
        if self._code is not None:
            await self._code.aclose()

    async def call(
        self,
        operation: str | OperationPlan,
        params: Mapping[str, Any] | None = None,
        *,
        raise_for_status: bool = True,
    ) -> OperationResult:
        """Call *operation* once and return its decoded result.

        Raises:
            OperationNotFound: no such operation.
            InputError: invalid parameters.
            AuthError: the upstream rejected the credentials (401/403).
            UpstreamError: the upstream answered another error status (unless
                *raise_for_status* is False, then the result carries the status).
            ResponseError: the body is unusable (declared JSON but invalid, too large).
            ResponseSchemaError: strict validation is on and the body does not match.
            TransportError, UpstreamTimeout, RateLimited, CircuitOpen: see the resilience docs.
            ScriptError: the connector's JavaScript failed (ScriptLimitError: hit a limit).
        """
        plan = self._plan(operation)
        trace = self._new_trace()
        if plan.operation.is_javascript:
            return await self._client_code().call_operation(plan, params or {}, trace)
        prepared, parameters = plan.prepare(params or {}, self._variables, self._headers)
        started = self._clock()
        reply, sent_request = await self._send_authenticated(
            prepared, plan, parameters=parameters, trace=trace
        )
        if reply.status_code >= 400 and raise_for_status:
            raise self._status_error(plan, reply)
        # An error page that is not the JSON it claims to be is still an answer, not a bad body.
        body = decode_body(reply) if reply.status_code < 400 else decode_error_body(reply)
        result = OperationResult(
            operation=plan.operation.name,
            status_code=reply.status_code,
            headers=self.redactor.redact_headers(reply.headers),
            body=body,
            elapsed=self._clock() - started,
            request=self._describe(sent_request),
        )
        if trace is not None:
            trace.attach(result)
        if reply.status_code >= 400:
            return result
        result.schema_mismatches = self._check_schema(plan, body, always=True)
        return result

    async def iter_pages(
        self,
        operation: str | OperationPlan,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
        observer: Observer | None = None,
        pace: bool = True,
        resume: PagePosition | None = None,
        inspect: PageInspector | None = None,
    ) -> AsyncIterator[Page]:
        """Read *operation* page by page; only one page is held in memory at a time.

        An operation without pagination yields its single response as one page. The read is
        paced (:mod:`connectory.runtime.pacing`): ``timeout`` bounds each page with its
        retries; the rate limit and ``Retry-After`` make it wait, each pause up to
        ``max_read_wait``. *observer* gets this read's events (``Waiting`` while paced);
        ``pace=False`` counts those waits against each page's timeout, as a single call does.
        Each page says where the read goes on (``page.next``); passing that as *resume*, with
        the same operation and parameters, continues the read exactly there. *inspect* sees
        each decoded body (with its status and page number) before its records are extracted,
        and may raise: a layer above finds an error object in a 200 page there.

        Raises:
            PaginationError: the API loops or points at another host, or *resume* points at
                another host; plus everything :meth:`call` raises (``RateLimited`` when one
                pause would exceed ``max_read_wait``).
        """
        plan = self._plan(operation)
        pacing = ReadPacing(self.policy_for(operation).max_read_wait if pace else None, observer)
        if plan.operation.is_javascript:
            # The method's apiClient requests are this read's: paced like its pages.
            with pacing_requests(pacing):
                page = await self._client_code().operation_page(plan, params or {})
            yield page
            return
        prepared, parameters = plan.prepare(params or {}, self._variables, self._headers)
        pagination = plan.operation.pagination
        paginator = create_paginator(pagination, self.base_url, max_pages) if pagination else None
        request = prepared.copy()
        number = 0
        so_far = 0
        if paginator is not None and resume is not None:
            paginator.restore(resume.state)
            number, so_far = resume.number, resume.records_so_far
            request = self._resumed_request(prepared, resume.next)
        elif paginator is not None:
            request.params.update(paginator.first_params())
        while True:
            number += 1
            started = self._clock()
            with pacing_requests(pacing):
                reply, _ = await self._send_authenticated(request, plan, parameters=parameters)
            if reply.status_code >= 400:
                raise self._status_error(plan, reply)
            body = decode_json_page(reply)
            if inspect is not None:
                inspect(body, reply.status_code, number)
            records = extract_records(body, plan.record_selector)
            so_far += len(records)
            following: NextPage | None = None
            stop: PaginationError | None = None
            if paginator is not None:
                view = PageView(
                    number,
                    body,
                    reply.headers,
                    reply.url,
                    len(records),
                    so_far,
                    hash(reply.content),
                )
                try:
                    following = paginator.next_page(view)
                except PaginationError as exc:
                    stop = exc  # raised after this page, whose records are good
                del view
            yield Page(
                number=number,
                records=records,
                status_code=reply.status_code,
                url=self.redactor.redact_url(reply.url),
                elapsed=self._clock() - started,
                records_so_far=so_far,
                schema_mismatches=self._check_schema(plan, body, always=number == 1),
                next=None
                if following is None or paginator is None
                else PagePosition(following, number, so_far, paginator.state()),
            )
            if stop is not None:
                raise stop
            if following is None:
                return
            # Let this page go before the next one arrives: at most one page in memory.
            del reply, body, records
            request = self._resumed_request(prepared, following)

    def _resumed_request(self, prepared: PreparedRequest, following: NextPage) -> PreparedRequest:
        if following.url is None:
            request = prepared.copy()
            request.params.update(following.params)
            return request
        # A position can come from outside (a cursor handed to a caller): credentials go
        # with every page, so its URL must be on the connector's own origin.
        if not same_origin(following.url, origin_of(self.base_url)):
            raise PaginationError(
                "the page to resume from is on another host than the connector's base_url; "
                "start the read again without a cursor"
            )
        return PreparedRequest(
            prepared.method, following.url, {}, dict(prepared.headers), prepared.content
        )

    async def iter_records(
        self,
        operation: str | OperationPlan,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
        observer: Observer | None = None,
        pace: bool = True,
    ) -> AsyncIterator[Any]:
        """Stream the records of *operation* across all its pages (see :meth:`iter_pages`)."""
        pages = self.iter_pages(
            operation, params, max_pages=max_pages, observer=observer, pace=pace
        )
        async for page in pages:
            for record in page.records:
                yield record
            del page  # not held while the next page is fetched

    def collection(self, key: str) -> Collection:
        """Return the collection *key* of this connection (one object per key and client).

        Raises:
            CollectionNotFound: the connector has no such collection.
        """
        # The collections layer sits on top of this one; the import is the one way up, kept
        # here so ``client.collection(...)`` is where users look for it.
        from connectory.collections import Collection

        found = self._collections.get(key)
        if found is None:
            spec = self.spec.collection(key)
            if spec is None:
                keys = ", ".join(c.key for c in self.spec.collections) or "none"
                raise CollectionNotFound(
                    f"connector '{self.spec.slug}' has no collection '{key}'; collections: {keys}"
                )
            found = self._collections[key] = Collection(self, spec)
        return found

    @property
    def binding_key(self) -> str:
        """A stable name of this connection for binding list cursors to it."""
        return self._binding_key or f"{self.spec.slug}@{self.base_url}"

    @property
    def variables(self) -> Mapping[str, Any]:
        """The connection's template variables (credentials, connector parameters, config)."""
        return MappingProxyType(self._variables)

    def check_call(self, operation: str, params: Mapping[str, Any] | None = None) -> None:
        """Check that *operation* exists and *params* are valid, without sending anything.

        Raises:
            OperationNotFound, InputError, TemplateError: as :meth:`call` would.
        """
        plan = self._plan(operation)
        if plan.operation.is_javascript:
            plan.check_parameters(params or {})
            return
        plan.prepare(params or {}, self._variables, self._headers)

    async def run_method(
        self,
        ref: CodeRefSpec,
        *,
        parameters: Mapping[str, Any] | None = None,
        input: Any = None,
        operation: str | None = None,
        trace: CallTrace | None = None,
        pace: bool = False,
    ) -> Any:
        """Run a JavaScript method of the connector and return its JSON value.

        The one entry point for connector methods (operations with ``implementation:
        javascript``, collections, events). The method's ``ctx.apiClient`` goes through this
        client: hooks, auth, resilience and the egress guard apply, and only the connector's
        origins (base URL, ``javascript.allowed_origins``) can be reached.

        Args:
            ref: The method (file, export, declared credentials).
            parameters: ``ctx.parameters`` (already validated by the caller).
            input: ``ctx.input`` (a record, an event, ...: any JSON value).
            operation: The operation whose resilience and hooks the apiClient uses; by
                default the connector's resilience and its global hooks.
            trace: Collects ``ctx.log`` lines and the apiClient requests.
            pace: The method is a read (an event's custom pull): its apiClient requests are
                paced like a read's pages (:mod:`connectory.runtime.pacing`), each rate-limit
                or ``Retry-After`` pause up to ``max_read_wait`` (the JavaScript time limit
                does not count time spent waiting on the API).

        Raises:
            ScriptError: the code threw, is missing, or returned something unusable.
            ScriptLimitError: it hit a limit (time, memory, output, apiClient calls).
            OperationNotFound: *operation* does not exist.
        """
        plan = self._plan(operation) if operation is not None else None
        code = self._client_code()
        if not pace:
            return await code.run_method(
                ref, parameters=parameters, input=input, plan=plan, trace=trace
            )
        policy = self.policy_for(plan) if plan is not None else self._resilience
        with pacing_requests(ReadPacing(policy.max_read_wait)):
            return await code.run_method(
                ref, parameters=parameters, input=input, plan=plan, trace=trace
            )

    @property
    def response_validation(self) -> ResponseValidation:
        """How responses are checked against their schemas: ``off``, ``warn`` or ``strict``."""
        return self._response_validation

    async def health(self) -> Health:
        """The connection's health from its circuit breaker: healthy or degraded."""
        return await self.pipeline.breaker.health(self.connection_key)

    def policy_for(self, operation: str | OperationPlan) -> ResilienceSpec:
        """The resilience settings that apply to *operation* on this connection."""
        return self._resilience.with_overrides(self._plan(operation).operation.resilience)

    def _plan(self, name: str | OperationPlan) -> OperationPlan:
        if isinstance(name, OperationPlan):
            # Built by a layer above (a collection's inline request).
            self._register_secret_locations(name.operation.path, name.operation.headers)
            return name
        plan = self._plans.get(name)
        if plan is None:
            operation = self.spec.operation(name)
            if operation is None:
                raise OperationNotFound(_unknown_operation(self.spec, name))
            self._register_secret_locations(operation.path, operation.headers)
            plan = self._plans[name] = OperationPlan(
                operation, self.base_url, schema_registry_for(self.spec)
            )
        return plan

    @property
    def oauth2(self) -> OAuth2Auth:
        """The OAuth2 handler: authorize URL, code exchange, refresh and revocation.

        Raises:
            InputError: the connector's auth is not OAuth2.
        """
        if not isinstance(self._auth, OAuth2Auth):
            raise InputError(
                f"connector '{self.spec.slug}' does not use OAuth2 (auth_type "
                f"{self.spec.auth.auth_type})"
            )
        return self._auth

    def _register_secret_locations(self, url: str, headers: Mapping[str, str]) -> None:
        """Register the headers and query parameters whose templates read a secret."""
        for name in secret_locations(url, headers, self._secret_keys):
            self.redactor.add_sensitive_name(name)

    async def _send_authenticated(
        self,
        prepared: PreparedRequest,
        plan: OperationPlan,
        *,
        parameters: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        trace: CallTrace | None = None,
    ) -> tuple[Reply, PreparedRequest]:
        """Send with credentials; after a 401, renew them once where the auth type can.

        Pre-request hooks see the request before auth; post-response hooks see the final
        reply. Returns the reply and the request as sent (credentials included: describe it
        with :meth:`_describe` before showing it; pages never need it, so they skip that cost).
        """
        hooks = self._client_code().hooks_for(plan.operation) if self._has_code else None
        if hooks is not None:
            changed = await hooks.before(prepared, parameters, trace)
            if isinstance(changed, Reply):  # the hook answered: nothing is sent
                return await hooks.after(changed, prepared, parameters, trace), prepared
            prepared = changed
        policy = self._policies.get(plan.operation.name)
        if policy is None:
            policy = self._policies[plan.operation.name] = self._resilience.with_overrides(
                plan.operation.resilience
            )
        if idempotent is None:
            idempotent = plan.operation.is_idempotent
        request = prepared.copy()
        token = await self._auth.apply(request)
        reply = await self._send(request, policy, idempotent)
        if reply.status_code == 401 and await self._auth.handle_unauthorized(token):
            logger.info("%s: 401 from upstream, renewing credentials once", plan.operation.name)
            request = prepared.copy()
            await self._auth.apply(request)
            reply = await self._send(request, policy, idempotent)
        if hooks is not None:
            reply = await hooks.after(reply, request, parameters, trace)
        return reply, request

    async def _send_token_request(self, request: PreparedRequest, idempotent: bool) -> Reply:
        # A token response's tokens are secrets the auth handler learns only afterwards.
        with self.calls.track("token_refresh", self.spec.auth.auth_type, secret_reply=True):
            return await self._send(request, self._resilience, idempotent)

    async def _send(
        self, request: PreparedRequest, policy: ResilienceSpec, idempotent: bool
    ) -> Reply:
        """Send *request* through the resilience pipeline and return the reply, read whole."""
        url = request.full_url()
        # Every URL leaves through here (operations, pages, token and login requests), so one
        # check covers base URLs rendered from credentials or config and next-page URLs. The
        # verdict depends on the host only: checked once per scheme and authority.
        authority_end = url.find("/", url.find("://") + 3)
        origin = url if authority_end < 0 else url[:authority_end]
        if origin not in self._checked_origins:
            check_url_host(origin, "refusing to send the request")
            if len(self._checked_origins) >= _MAX_CHECKED_ORIGINS:
                self._checked_origins.clear()
            self._checked_origins.add(origin)
        _check_header_values(request.headers)
        try:
            outgoing = self._wire.build(request.method, url, request.headers, request.content)
        except UnicodeEncodeError:
            raise InputError(_non_ascii_header(request.headers)) from None
        except httpx.InvalidURL as error:
            detail = self.redactor.redact(str(error))
            raise InvalidURL(
                f"refusing to send the request: the URL is not valid ({detail}); check the "
                "connector's base_url and the values its templates use"
            ) from None
        # The call being recorded (if any) gets this request's attempts and excerpts.
        call = current_call()
        if call is not None:
            call.note_request(request.method, url, request.headers, request.content)
        tracing = call.tracing if call is not None else None
        wire = self._wire
        attempt: Callable[[float], Awaitable[Reply]]
        # The wire's own send, bound to this request: no coroutine of ours in between (but the
        # attempt's span, when traced).
        send = wire.sender(outgoing) if isinstance(wire, AdaptiveWire) else wire.send
        if tracing is not None:
            # The URL is redacted once for all the attempts' spans.
            redacted = self.redactor.redact_url(url)
            attempt = functools.partial(self._traced_attempt, send, outgoing, call, redacted)
        else:
            attempt = functools.partial(send, outgoing)

        stats = AttemptInfo(attempts=0)
        # Inside a read, its pacing (max_read_wait, observer) applies; see runtime.pacing.
        pacing = current_pacing() or _UNPACED
        # An idempotency key only matters where neither the method nor the operation allows
        # a resend already (see may_retry_after_send): the header scan is skipped otherwise.
        has_idempotency_key = (
            not idempotent
            and request.method.upper() not in IDEMPOTENT_METHODS
            and any(name.lower() in _IDEMPOTENCY_HEADERS for name in request.headers)
        )
        redacting = start_redacting_logs(self.redactor)  # redacting_logs(), inline
        try:
            reply = await self.pipeline.execute(
                attempt,
                key=self.connection_key,
                connector_key=self.connector_key,
                policy=policy,
                method=request.method,
                idempotent=idempotent,
                has_idempotency_key=has_idempotency_key,
                observer=combine_observers(self._observer, pacing.observer),
                stats=stats,
                return_final_status=True,
                max_pause=pacing.max_pause,
                max_pause_setting=pacing.setting,
            )
        except BaseException:
            if call is not None:
                call.note_attempts(stats.attempts)
            raise
        finally:
            stop_redacting_logs(redacting)
        reply.attempts = stats.attempts
        if call is not None:
            call.note_reply(reply.status_code, reply.headers, reply.content, stats.attempts)
        if request_logger.isEnabledFor(logging.DEBUG):
            request_logger.debug(
                "%s %s -> %s in %.3f s",
                request.method,
                self.redactor.redact_url(url),
                reply.status_code,
                reply.elapsed,
            )
        return reply

    async def _traced_attempt(
        self,
        send: Callable[[Outgoing, float], Awaitable[Reply]],
        outgoing: Outgoing,
        call: CallTrack | None,
        redacted_url: str,
        remaining: float,
    ) -> Reply:
        """One attempt as a CLIENT span (``traceparent`` upstream where the connector asks)."""
        assert call is not None and call.tracing is not None
        headers = outgoing.headers if self._propagate_trace else None
        with call.tracing.attempt_span(call, outgoing.method, redacted_url, headers) as span:
            reply = await send(outgoing, remaining)
            span.set_attribute("http.response.status_code", reply.status_code)
            return reply

    def _check_schema(self, plan: OperationPlan, body: Any, always: bool) -> list[tuple[str, str]]:
        checker = plan.response_checker
        if checker is None or self._response_validation == "off":
            return []
        strict = self._response_validation == "strict"
        if not (always or strict):
            return []
        mismatches = checker.mismatches(body, self.redactor)
        if mismatches:
            summary = "; ".join(f"{path}: {message}" for path, message in mismatches[:3])
            if strict:
                raise ResponseSchemaError(
                    f"the response of {plan.operation.name} does not match its response schema: "
                    f"{summary}",
                    mismatches,
                )
            logger.warning(
                "%s: response does not match its schema: %s", plan.operation.name, summary
            )
        return mismatches

    def _status_error(self, plan: OperationPlan, reply: Reply) -> AuthError | UpstreamError:
        status = reply.status_code
        snippet = self.redactor.redact_body(reply.content, reply.content_type, 500).strip()
        phrase = _phrase(status)
        detail = f": {snippet}" if snippet else ""
        name = plan.operation.name
        if reply.attempts > 1:
            phrase += f" after {reply.attempts} attempts"
        if status in (401, 403):
            return AuthError(
                f"{name}: the upstream rejected the credentials ({status} {phrase}){detail}; "
                "check the connection's credentials and their permissions",
                status_code=status,
            )
        return UpstreamError(
            f"{name}: the upstream answered {status} {phrase}{detail}",
            status_code=status,
            body=snippet,
            retry_after=wait_hint(status, reply.headers, time.time()),
            attempts=reply.attempts,
        )

    def _describe(self, request: PreparedRequest) -> SentRequest:
        body = None
        if request.content:
            content_type = next(
                (v for k, v in request.headers.items() if k.lower() == "content-type"), ""
            )
            body = self.redactor.redact_body(request.content, content_type, 2000)
        return SentRequest(
            method=request.method,
            url=self.redactor.redact_url(request.full_url()),
            headers=self.redactor.redact_request_headers(request.headers),
            body=body,
        )

    def _client_code(self) -> ClientCode:
        if self._code is None:
            from connectory.runtime.client_code import ClientCode

            async def send(
                request: PreparedRequest,
                plan: OperationPlan,
                parameters: Mapping[str, Any] | None,
                idempotent: bool,
                trace: CallTrace | None,
            ) -> tuple[Reply, PreparedRequest]:
                return await self._send_authenticated(
                    request, plan, parameters=parameters, idempotent=idempotent, trace=trace
                )

            self._code = ClientCode(
                self.spec,
                self._variables,
                self.redactor,
                self.base_url,
                engine=self._js_engine,
                tenant=self._tenant,
                send=send,
                describe=self._describe,
                check_schema=self._check_schema,
                clock=self._clock,
                base_headers=self._headers,
                wall_clock=self._wall_clock,
            )
            self._code.code.calls = self.calls
        return self._code

    def _new_trace(self) -> CallTrace | None:
        if not self._has_code:
            return None
        from connectory.runtime.code import CallTrace

        return CallTrace()


def connector_budget_key(connector_key: str, tenant_key: str | None, scope: RateLimitScope) -> str:
    """Return the key of the ``connector_rate_limit`` budget a connection draws from.

    Args:
        connector_key: The connector's id (unique across owners).
        tenant_key: The connection's owner (enterprise id), or None for a client of its own.
        scope: ``enterprise``: one budget per (connector, tenant); ``deployment``: one budget
            for the connector.
    """
    if scope == "deployment" or tenant_key is None:
        return connector_key
    return f"{connector_key}/{tenant_key}"


def _sensitive_values(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    return [
        str(values[name])
        for name, field in schema.items()
        if field.is_sensitive and values.get(name) not in (None, "")
    ]


#: Characters no header value may hold (RFC 9110: no CR, LF, NUL or other controls but tab).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_header_values(headers: Mapping[str, str]) -> None:
    """Refuse header values with control characters (h11 would refuse them as it sends).

    Raises:
        InputError: a value holds a line break, NUL or another control character.
    """
    for name, value in headers.items():
        if value.isprintable() and name.isprintable():
            continue  # no control character at all (isprintable is False for each of them)
        if _CONTROL_CHARACTERS.search(value) or _CONTROL_CHARACTERS.search(name):
            raise InputError(
                f"header {name!r} has control characters (a line break, NUL...) that HTTP "
                "headers cannot carry; remove them or send the value in the query or body"
            )


def _non_ascii_header(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if not (name + value).isascii():
            return (
                f"header {name!r} has characters HTTP headers cannot carry (only ASCII); "
                "remove them or send the value in the query or body instead"
            )
    return "a header has characters HTTP headers cannot carry (only ASCII)"


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


def _unknown_operation(spec: ConnectorSpec, name: str) -> str:
    import difflib

    names = spec.operation_names
    match = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean '{match[0]}'?" if match else ""
    listing = ", ".join(names) if names else "none"
    return f"connector '{spec.slug}' has no operation '{name}'{hint} Operations: {listing}"
