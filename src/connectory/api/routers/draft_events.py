"""``/connectors/{id}/draft/event-test``: try an event of the draft before publishing it.

The builder's Events tab. With test credentials (used for this request only, never stored or
logged, like a draft run):

* a **poll** or **collection** event is pulled once against the real upstream, from the state
  given (or the first pull's empty one): the answer is the events that pull would emit, the
  state (cursor) to give to the next pull, and the requests it sent, redacted. Pulling again
  from the returned state shows what a subscription would see next time: nothing when the
  upstream has not changed.
* a **webhook** (or global webhook) event's ``handle`` runs on a sample request given in the
  body: the answer is the events it yields and what intake would answer (a handshake's
  challenge, an acknowledgement, a refused signature). The signature is checked and reported,
  never required, so a sample copied from a provider's docs can be tried without its secret.

Nothing is stored: no subscription, no event, no delivery.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routers.draft_runs import MAX_PAGES, ExchangeOut
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import Values
from connectory.api.schemas.connectors import error_responses
from connectory.api.schemas.values import IdPath, ParameterObject
from connectory.errors import (
    AuthError,
    EventError,
    InvalidRequest,
    NotFound,
    PaginationError,
    ResponseError,
    ScriptError,
    TemplateError,
    UpstreamError,
    WebhookRejected,
)
from connectory.events.testing import run_event_case
from connectory.events.verification import answer_challenge, verify_signature
from connectory.runtime import ConnectorClient
from connectory.services.connectors import find_editable_connector
from connectory.services.draft_clients import draft_client, draft_parameters, spec_to_run
from connectory.services.draft_exchanges import describe
from connectory.services.secret_store import SecretBox
from connectory.spec.connector import ConnectorSpec
from connectory.spec.events import ChallengeSpec, EventSpec, SignatureSpec
from connectory.templating import compile_template

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connectors/{connector_id}", tags=["connector versions"]
)

#: Events shown in an answer at most (a first "everything" poll may find many).
MAX_EVENTS = 200
#: A sample request's body, at most (a webhook is small; intake caps larger ones too).
MAX_SAMPLE_CHARS = 1_048_576

#: Dedup keys remembered between test pulls, at most.
MAX_SEEN = 1000

_DedupKey = Annotated[str, StringConstraints(max_length=300)]
_Header = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_HeaderValue = Annotated[str, StringConstraints(max_length=8192)]


class SampleRequestIn(BaseModel):
    """A webhook request as a provider would send it to the intake URL."""

    model_config = ConfigDict(extra="forbid", strict=True)
    method: Literal["POST", "GET"] = Field(
        default="POST", description="GET only for a verification handshake."
    )
    headers: dict[_Header, _HeaderValue] = Field(default_factory=dict, max_length=100)
    query: dict[_Header, _HeaderValue] = Field(default_factory=dict, max_length=100)
    body: str = Field(
        default="", max_length=MAX_SAMPLE_CHARS, description="The raw body, e.g. JSON text."
    )


class DraftEventTestIn(BaseModel):
    """An event of the draft to try, with test credentials used for this call only."""

    model_config = ConfigDict(extra="forbid", strict=True)
    event: str = Field(min_length=1, max_length=200)
    credentials: Values = Field(default_factory=dict, max_length=100)
    connector_parameters: Values | None = Field(
        default=None, max_length=100, description="Default: the connector's stored parameters."
    )
    parameters: ParameterObject = Field(
        default_factory=dict, description="The event's parameters (defaults filled in)."
    )
    state: ParameterObject | None = Field(
        default=None,
        description="Poll and collection events: the state a previous test answered (its "
        "cursor); absent: the first pull. Webhook events: handle's state variable.",
    )
    request: SampleRequestIn | None = Field(
        default=None, description="Webhook events: the sample request to handle."
    )
    seen: list[_DedupKey] = Field(
        default_factory=list,
        max_length=MAX_SEEN,
        description="Pulls: the ids of events earlier tests emitted (a previous answer's seen): "
        "read again in the overlap, they are dropped as the events table's dedup key drops them.",
    )


class TestEventOut(BaseModel):
    """One event the pull or the handle would emit."""

    type: str
    id: str | None = Field(description="Its dedup key.")
    occurred_at: str | None
    selector: str | None = None
    payload: Any = Field(description="The event's payload, redacted.")


class SignatureOut(BaseModel):
    """The sample's signature, checked as intake would (reported, not required)."""

    valid: bool | None = Field(description="null: no secret to check it with.")
    message: str


class IntakeResponseOut(BaseModel):
    """What the intake URL would answer this request."""

    status_code: int
    content_type: str
    body: str


class DraftEventTestOut(BaseModel):
    """What one pull found, or what handle made of the sample request."""

    event: str
    kind: Literal["pull", "handle"]
    version: str = Field(description="draft, or the published version that was tried.")
    events: list[TestEventOut] = Field(description=f"At most {MAX_EVENTS}.")
    event_count: int = Field(description="How many events, including those not shown.")
    state: dict[str, Any] | None = Field(
        default=None, description="Pulls: the state to pull again from (give it back as is)."
    )
    cursor: str | None = Field(default=None, description="Pulls: the cursor after the pull.")
    seen: list[str] = Field(
        default_factory=list, description="Pulls: give back with state to pull again."
    )
    repeated: int = Field(
        default=0, description="Pulls: events read again that an earlier test already emitted."
    )
    exchanges: list[ExchangeOut] = Field(
        default_factory=list, description="Pulls: the requests sent, in order, redacted."
    )
    signature: SignatureOut | None = Field(
        default=None, description="Webhooks: the signature check (null: none declared)."
    )
    response: IntakeResponseOut | None = Field(
        default=None, description="Webhooks: what intake would answer."
    )
    error: str | None = Field(default=None, description="Why the pull failed, if it did.")


@router.post(
    "/draft/event-test",
    response_model=DraftEventTestOut,
    responses=error_responses(403, 404, 429, 502, 503, 504),
    summary="Try an event of the draft: one pull, or handle a sample webhook",
)
async def test_draft_event(
    connector_id: IdPath,
    body: DraftEventTestIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> DraftEventTestOut:
    """Pull a poll or collection event once, or run a webhook event's handle on a sample.

    The credentials are used for this request only: never stored, logged or echoed. Nothing
    is stored; give the answer's ``state`` back to pull again from where this pull stopped.
    A failed pull (a refused key, a record without its id) is an answer: ``error`` says why
    and ``exchanges`` show what was sent and received.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    box: SecretBox = request.app.state.secret_box
    spec, label = await spec_to_run(session, box, connector)
    event = spec.event(body.event)
    if event is None:
        known = ", ".join(e.key for e in spec.events) or "none"
        raise NotFound(f"the connector has no event {body.event[:200]!r}; its events: {known}")
    pulls = event.poll is not None or event.collection is not None
    if pulls and body.request is not None:
        raise InvalidRequest(
            f"event {event.key!r} is a {event.type} event: it is pulled, not sent; leave "
            "request out (give state to pull again from a previous answer)"
        )
    if not pulls and body.request is None:
        raise InvalidRequest(
            f"event {event.key!r} is a {event.type} event: give request with the sample "
            "webhook (headers and body) to handle"
        )
    if pulls and body.state is not None:
        _check_state(body.state)
    parameters = await draft_parameters(session, box, connector, body.connector_parameters)
    await session.commit()  # release the database before calling the upstream
    state = request.app.state
    recorder, client = draft_client(
        state.settings, state.runtimes, connector, principal, spec, body.credentials, parameters
    )
    out = DraftEventTestOut(
        event=event.key, kind="pull" if pulls else "handle", version=label, events=[], event_count=0
    )
    event_parameters = _with_defaults(event, body.parameters)
    async with client:
        if pulls:
            try:
                result = await run_event_case(
                    client, event.key, None, state=body.state, parameters=event_parameters
                )
                result["events"], out.repeated = _news(result.get("events") or [], body.seen)
                _fill(out, client, result)
                out.seen = [*body.seen, *(str(e["id"]) for e in result["events"])][-MAX_SEEN:]
                out.state = client.redactor.redact_data(result.get("state") or {})
                cursor = result.get("cursor")
                out.cursor = str(cursor) if cursor else None
            except (
                UpstreamError,
                AuthError,
                EventError,
                ScriptError,
                ResponseError,
                PaginationError,
            ) as error:
                out.error = client.redactor.redact(str(error))
            out.exchanges = [
                ExchangeOut.model_validate(describe(exchange, client.redactor))
                for exchange in recorder.take()[:MAX_PAGES]
            ]
            return out
        assert body.request is not None
        await _handle(out, client, spec, event, body, event_parameters)
    return out


async def _handle(
    out: DraftEventTestOut,
    client: ConnectorClient,
    spec: ConnectorSpec,
    event: EventSpec,
    body: DraftEventTestIn,
    parameters: dict[str, Any],
) -> None:
    """Handle the sample as intake and the intake worker would, reporting each step."""
    sample = body.request
    assert sample is not None
    headers = {name.lower(): value for name, value in sample.headers.items()}
    raw = sample.body.encode()
    verification, challenge = _checks(spec, event)
    if challenge is not None:
        answer = answer_challenge_reported(challenge, sample.query, headers, raw)
        if answer is not None:
            out.response = answer
            return  # a handshake is answered inline: nothing is handled
    if sample.method != "POST":
        out.response = IntakeResponseOut(
            status_code=400,
            content_type="application/json",
            body="webhooks are delivered with POST; this GET is not a handshake the event "
            "declares (its challenge's query does not match)",
        )
        return
    out.response = IntakeResponseOut(
        status_code=200, content_type="application/json", body='{"received":true}'
    )
    if verification is not None:
        out.signature = _verify(client, verification, headers, raw)
        if out.signature.valid is False:
            out.response = IntakeResponseOut(
                status_code=401, content_type="application/json", body=out.signature.message
            )
    try:
        result = await run_event_case(
            client,
            event.key,
            sample.body,
            headers,
            query=sample.query,
            state=body.state,
            parameters=parameters,
        )
    except EventError as error:
        # The sample is the caller's: what handle cannot read in it is theirs to fix.
        raise InvalidRequest(
            f"the sample request cannot be handled: {client.redactor.redact(str(error))}"
        ) from None
    _fill(out, client, result)


def answer_challenge_reported(
    challenge: ChallengeSpec, query: dict[str, str], headers: dict[str, str], raw: bytes
) -> IntakeResponseOut | None:
    """Intake's inline answer to a handshake, or None when the sample is not one."""
    try:
        answer = answer_challenge(challenge, query, headers, raw)
    except WebhookRejected as error:
        return IntakeResponseOut(status_code=401, content_type="text/plain", body=str(error))
    if answer is None:
        return None
    status, content_type, text = answer
    return IntakeResponseOut(
        status_code=status, content_type=content_type, body=text.decode(errors="replace")
    )


def _checks(
    spec: ConnectorSpec, event: EventSpec
) -> tuple[SignatureSpec | None, ChallengeSpec | None]:
    """The signature and handshake intake applies to this event (its own, else the global)."""
    fallback = spec.webhooks
    verification = event.webhook.verification if event.webhook is not None else None
    challenge = event.webhook.challenge if event.webhook is not None else None
    if fallback is not None:
        verification = verification or fallback.verification
        challenge = challenge or fallback.challenge
    return verification, challenge


def _verify(
    client: ConnectorClient, spec: SignatureSpec, headers: dict[str, str], raw: bytes
) -> SignatureOut:
    """Check the sample's signature with the secret the test credentials give."""
    try:
        secret = compile_template(spec.secret).render(dict(client.variables))
    except TemplateError:
        secret = ""
    if not secret:
        return SignatureOut(
            valid=None,
            message=f"not checked: the signing secret ({spec.secret}) is not in the test "
            "credentials or connector parameters",
        )
    try:
        verify_signature(spec, secret, headers, raw, time.time())
    except WebhookRejected as error:
        return SignatureOut(valid=False, message=client.redactor.redact(str(error)))
    return SignatureOut(valid=True, message="the signature matches")


#: What a pull keeps in its state, and the shape each part has (connectory.events.pulling).
_STATE_SHAPES: dict[str, tuple[type, str]] = {
    "cursor": (str, "a text (an ISO 8601 time)"),
    "baseline": (list, "a list of event ids"),
    "snapshot": (dict, "an object of record id -> version"),
    "values": (dict, "an object (a custom pull's own state)"),
    "pulled": (bool, "true or false"),
}


def _check_state(state: dict[str, Any]) -> None:
    """Refuse a state no pull could have returned, naming the part that is wrong.

    Raises:
        InvalidRequest: a known part of the wrong shape.
    """
    for name, value in state.items():
        shape = _STATE_SHAPES.get(name)
        if shape is None or value is None:
            continue
        kind, described = shape
        wrong = not isinstance(value, kind)
        if not wrong and name == "baseline":
            wrong = not all(isinstance(item, str) for item in value)
        if not wrong and name == "snapshot":
            wrong = not all(isinstance(item, str) for item in value.values())
        if wrong:
            raise InvalidRequest(
                f"state.{name} must be {described}, as a previous test's answer gave it; "
                "leave state out to pull from the start"
            )


def _with_defaults(event: EventSpec, given: dict[str, Any]) -> dict[str, Any]:
    """The event's parameters: the declared defaults, then what was given."""
    values = {
        name: field.default for name, field in event.parameters.items() if field.default is not None
    }
    values.update(given)
    return values


def _news(events: list[dict[str, Any]], seen: list[str]) -> tuple[list[dict[str, Any]], int]:
    """The events not emitted before, and how many were (a subscription stores each once)."""
    before = set(seen)
    fresh = [item for item in events if item.get("id") not in before]
    return fresh, len(events) - len(fresh)


def _fill(out: DraftEventTestOut, client: ConnectorClient, result: dict[str, Any]) -> None:
    events = result.get("events") or []
    out.event_count = len(events)
    out.events = [
        TestEventOut(
            type=item["type"],
            id=item.get("id"),
            occurred_at=item.get("occurred_at"),
            selector=item.get("selector"),
            payload=client.redactor.redact_data(item.get("payload")),
        )
        for item in events[:MAX_EVENTS]
    ]
