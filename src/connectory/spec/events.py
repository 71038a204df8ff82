"""Events in the connector format: webhooks, global webhooks and polls.

An event tells Connectory how to learn that something happened in the external application::

    events:
      - key: item_changed
        name: Item changed
        type: webhook                      # webhook | global_webhook | poll
        webhook:
          subscribe:                       # an operation plus mappings
            operation: create_subscription
            input: {url: "{{ webhook_url }}", events: "item.changed"}
            state: {subscription_id: "{{ response.id }}"}
            expires_at: "{{ response.expires_at }}"
          unsubscribe:
            operation: delete_subscription
            input: {id: "{{ state.subscription_id }}"}
          refresh: {...}                   # like subscribe, before expires_at
          handle:
            items: events                  # where the events are in the body ($: the body)
            type: "{{ item.type }}"
            id: "{{ item.id }}"            # the dedup key
          verification: {preset: standard-webhooks, secret: "{{ credentials.webhook_secret }}"}

Templates in events see the variables named in each field's description; the values they
produce are strings. Selectors (``items``, ``payload``) use the syntax of record selectors.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from connectory.errors import TemplateError
from connectory.spec.base import SpecModel
from connectory.spec.code import CodeRefSpec
from connectory.spec.fields import InputFieldSpec
from connectory.spec.selectors import parse_selector
from connectory.templating import compile_template

EventType = Literal["webhook", "global_webhook", "poll", "collection"]
CollectionChange = Literal["created", "updated", "deleted"]
EVENT_KEY_PATTERN = r"^[a-z][a-z0-9_.\-]*$"

#: What a Standard Webhooks sender does (https://www.standardwebhooks.com/).
STANDARD_WEBHOOKS: dict[str, Any] = {
    "header": "webhook-signature",
    "prefix": "v1,",
    "separator": " ",
    "encoding": "base64",
    "content": "{id}.{timestamp}.{body}",
    "timestamp_header": "webhook-timestamp",
    "id_header": "webhook-id",
    "secret_encoding": "whsec",
}


def _check_template(value: str) -> str:
    try:
        compile_template(value)
    except TemplateError as error:
        raise ValueError(str(error)) from None  # pydantic reports ValueErrors at the field
    return value


class SignatureSpec(SpecModel):
    """How an incoming webhook proves it comes from the provider: an HMAC, checked before parsing.

    The signed content is ``content`` with ``{body}`` (the raw bytes), ``{timestamp}`` and
    ``{id}`` (from their headers) put in. ``preset: standard-webhooks`` fills in the
    Standard Webhooks layout; any field given beside it wins.
    """

    preset: Literal["standard-webhooks"] | None = Field(
        default=None, description="A known layout: standard-webhooks."
    )
    secret: str = Field(
        description="Template of the signing secret, from credentials or connector_parameters, "
        "e.g. {{ connector_parameters.signing_secret }}.",
    )
    secret_encoding: Literal["raw", "base64", "whsec"] = Field(
        default="raw", description="raw text, base64, or whsec_<base64> (Standard Webhooks)."
    )
    algorithm: Literal["sha256", "sha1", "sha512"] = Field(default="sha256")
    header: str = Field(default="", description="Header carrying the signature(s).")
    prefix: str = Field(default="", description="Text before each signature, e.g. sha256=.")
    separator: str | None = Field(
        default=None, description="Splits a header holding several signatures (any may match)."
    )
    encoding: Literal["hex", "base64"] = Field(default="hex")
    content: str = Field(
        default="{body}",
        description="What is signed: {body}, {timestamp}.{body} or {id}.{timestamp}.{body}.",
    )
    timestamp_header: str | None = Field(
        default=None, description="Header with the send time (Unix seconds); checked for age."
    )
    id_header: str | None = Field(
        default=None,
        description="Header with the message id: a repeated id is not processed twice.",
    )
    tolerance_seconds: int = Field(
        default=300, ge=1, le=86400, description="Largest accepted age (and clock skew)."
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") == "standard-webhooks":
            return {**STANDARD_WEBHOOKS, **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SignatureSpec:
        if not self.header:
            raise ValueError("header is required: the name of the header carrying the signature")
        if "{timestamp}" in self.content and self.timestamp_header is None:
            raise ValueError("content uses {timestamp}: set timestamp_header")
        if "{id}" in self.content and self.id_header is None:
            raise ValueError("content uses {id}: set id_header")
        if "{body}" not in self.content:
            raise ValueError("content must include {body}")
        return self

    @field_validator("secret")
    @classmethod
    def _secret_template(cls, value: str) -> str:
        return _check_template(value)


class ChallengeSpec(SpecModel):
    """An unsigned verification handshake answered inline (e.g. ``hub.challenge``).

    It matches when every ``query`` entry equals the request's query parameter (``"*"``: any
    value present); the answer is ``respond`` rendered with ``query``, ``headers`` and ``body``.
    """

    query: dict[str, str] = Field(min_length=1, description="Query parameters that must match.")
    respond: str = Field(description="Template of the answer, e.g. {{ query['hub.challenge'] }}.")
    content_type: str = Field(default="text/plain")
    status: int = Field(default=200, ge=200, le=299)

    @field_validator("respond")
    @classmethod
    def _respond_template(cls, value: str) -> str:
        return _check_template(value)


class CallSpec(SpecModel):
    """An operation plus mappings: ``subscribe``, ``unsubscribe`` and ``refresh``.

    ``input`` templates see ``webhook_url``, ``parameters`` (the subscription's), ``state``,
    ``credentials``, ``config`` and ``connector_parameters``; ``state`` and ``expires_at`` /
    ``expires_in`` templates see those and ``response`` (the operation's body).
    """

    operation: str | None = Field(default=None, min_length=1, description="The operation to call.")
    method: CodeRefSpec | None = Field(
        default=None,
        description="Or a JavaScript method (methods/hooks.js#subscribe): it gets ctx.input "
        "{webhook_url, state, config} and ctx.parameters, and returns {state, expires_at}.",
    )
    input: dict[str, str] = Field(default_factory=dict, description="Operation parameters.")
    state: dict[str, str] = Field(
        default_factory=dict, description="Values to keep with the subscription."
    )
    expires_at: str | None = Field(
        default=None, description="When the provider drops the subscription (ISO 8601)."
    )
    expires_in: str | None = Field(default=None, description="Or: seconds until it does.")

    @field_validator("input", "state")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            _check_template(text)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> CallSpec:
        if (self.operation is None) == (self.method is None):
            raise ValueError("give either operation (plus input/state mappings) or method")
        return self


class HandleSpec(SpecModel):
    """Turns a received webhook (or a polled record) into events.

    Templates see ``item`` (one element of ``items``), ``body``, ``headers``, ``query`` and
    ``state``. Or a JavaScript ``method`` does it all (webhook events only): it gets
    ``ctx.input`` ``{body, raw_body, headers, query, state}`` and returns the events.
    """

    method: CodeRefSpec | None = Field(
        default=None,
        description="Or a JavaScript method (methods/events.js#handle): ctx.input is {body "
        "(parsed JSON, or null), raw_body (text), headers, query, state}; it returns a list "
        "of events (or {events: [...]}), each {type, id, occurred_at, payload}.",
    )

    items: str = Field(default="$", description="Selector of the list of events in the body.")
    type: str | None = Field(
        default=None, description="Template of the event type; default: the event's key."
    )
    id: str | None = Field(
        default=None,
        description="Template of the dedup key (the provider's event id); default: the "
        "message id header, else a hash of the item.",
    )
    occurred_at: str | None = Field(default=None, description="Template of when it happened.")
    payload: str = Field(default="$", description="Selector of the payload within the item.")
    selector: str | None = Field(
        default=None,
        description="Global webhooks: template of the value routed on (e.g. {{ item.account }}).",
    )
    only_types: list[str] | None = Field(
        default=None, description="Keep only events of these types."
    )

    @field_validator("items", "payload")
    @classmethod
    def _selectors(cls, value: str) -> str:
        parse_selector(value)  # ValueError with what to write
        return value

    @field_validator("type", "id", "occurred_at", "selector")
    @classmethod
    def _templates(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)

    @model_validator(mode="after")
    def _method_or_mappings(self) -> HandleSpec:
        if self.method is None:
            return self
        mapped = [
            name
            for name in ("type", "id", "occurred_at", "selector", "only_types")
            if getattr(self, name) is not None
        ] + [name for name in ("items", "payload") if getattr(self, name) != "$"]
        if mapped:
            raise ValueError(
                f"a handle with method: is the method alone; drop {', '.join(mapped)} (the "
                "method returns each event's type, id, occurred_at and payload)"
            )
        return self


class WebhookSpec(SpecModel):
    """A webhook the connection registers with the provider (one URL per subscription)."""

    subscribe: CallSpec | None = Field(
        default=None, description="Registers the URL; none when the user registers it by hand."
    )
    unsubscribe: CallSpec | None = None
    refresh: CallSpec | None = None
    refresh_before_seconds: int = Field(
        default=3600, ge=1, description="Refresh this long before the subscription expires."
    )
    handle: HandleSpec = Field(default_factory=HandleSpec)
    verification: SignatureSpec | None = None
    challenge: ChallengeSpec | None = None


class GlobalWebhookSpec(SpecModel):
    """One URL per connector (configured on the provider's app); events routed by selector."""

    subscription_selector: str = Field(
        description="Template over credentials/config of the value a subscription receives, "
        "e.g. {{ config.account_id }}; compared with each event's handle.selector.",
    )
    handle: HandleSpec

    @field_validator("subscription_selector")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value)

    @model_validator(mode="after")
    def _handle_selects(self) -> GlobalWebhookSpec:
        if self.handle.method is not None:
            raise ValueError(
                "a global webhook's handle cannot be a JavaScript method: it runs for no single "
                "connection (whose credentials would it see?); declare items, type, id and "
                "selector"
            )
        if self.handle.selector is None:
            raise ValueError("handle.selector is required for a global webhook")
        return self


class PollSpec(SpecModel):
    """Pull the latest records with an operation, newest changes since a stored cursor.

    Each poll asks for records changed since the cursor minus ``overlap_seconds`` (so changes
    in the same second as the last poll are not missed), and drops those already seen by
    ``id_field`` + ``updated_field``.
    """

    operation: str | None = Field(default=None, min_length=1, description="A list operation.")
    method: CodeRefSpec | None = Field(
        default=None,
        description="Or a custom pull, a JavaScript method (methods/events.js#pull): ctx.input "
        "is {state, first} (the state it returned last time; first: no pull yet) and "
        "ctx.parameters the subscription's; it returns {events: [{type, id, occurred_at, "
        "payload}], state}. The state is kept with the subscription for the next pull.",
    )
    input: dict[str, str] = Field(
        default_factory=dict,
        description="Operation parameters; templates see parameters, config and since "
        "(the cursor minus the overlap, ISO 8601; empty on the first poll).",
    )
    since_parameter: str | None = Field(
        default=None, description="The operation parameter that takes the cursor (updated since)."
    )
    id_field: str = Field(default="id", description="Selector of the record id.")
    updated_field: str = Field(default="updated_at", description="Selector of the change time.")
    interval_seconds: int = Field(default=60, ge=1, description="Time between polls.")
    overlap_seconds: int = Field(default=5, ge=0, description="Re-read window behind the cursor.")
    type: str | None = Field(default=None, description="Event type; default: the event's key.")
    max_pages: int = Field(default=100, ge=1, description="Pages read per poll at most.")
    first_poll: Literal["baseline", "everything"] = Field(
        default="baseline",
        description="baseline: the first poll sets the cursor without emitting past records.",
    )

    @field_validator("id_field", "updated_field")
    @classmethod
    def _selectors(cls, value: str) -> str:
        parse_selector(value)
        return value

    @model_validator(mode="after")
    def _operation_or_method(self) -> PollSpec:
        if (self.operation is None) == (self.method is None):
            raise ValueError(
                "give either operation (a list operation, polled with a cursor) or method (a "
                "JavaScript custom pull)"
            )
        if self.method is not None and (self.input or self.since_parameter):
            raise ValueError("input and since_parameter are for operation: a method pulls itself")
        return self


def _created_and_updated() -> list[CollectionChange]:
    return ["created", "updated"]


class CollectionEventSpec(SpecModel):
    """Changes to the records of a data collection: ``<collection>.created|updated|deleted``.

    ``pull_latest`` lists the records updated since a stored cursor (minus the overlap) with
    the collection's ``updated_since`` filter; ``full_scan`` lists every record and diffs it
    with the previous scan (the only way to see deletions without a webhook; for small
    collections: at most ``max_records`` are kept). Default: ``pull_latest`` when the
    collection's ``list`` filters by ``updated_since``, else ``full_scan``.
    """

    collection: str = Field(min_length=1, description="The collection's key.")
    changes: list[CollectionChange] = Field(
        default_factory=_created_and_updated, min_length=1, description="Which changes."
    )
    via: Literal["pull_latest", "full_scan"] | None = None
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="The collection's parameters (templates over parameters and config).",
    )
    interval_seconds: int = Field(default=60, ge=1)
    overlap_seconds: int = Field(default=5, ge=0)
    max_records: int = Field(default=10_000, ge=1, le=100_000)

    @field_validator("parameters")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            _check_template(text)
        return value

    @model_validator(mode="after")
    def _deletions_need_a_scan(self) -> CollectionEventSpec:
        if "deleted" in self.changes and self.via == "pull_latest":
            raise ValueError("deletions are only seen by a full_scan (pull_latest sees changes)")
        return self


class EventSpec(SpecModel):
    """One kind of event a connection can subscribe to."""

    key: str = Field(pattern=EVENT_KEY_PATTERN, description="Identifier, e.g. item_changed.")
    name: str | None = Field(default=None, description="Display name.")
    description: str | None = None
    type: EventType = Field(description="webhook, global_webhook, poll or collection.")
    parameters: dict[str, InputFieldSpec] = Field(
        default_factory=dict, description="What a subscription is configured with."
    )
    payload_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the payload ($ref to shared schemas allowed)."
    )
    webhook: WebhookSpec | None = None
    global_webhook: GlobalWebhookSpec | None = None
    poll: PollSpec | None = None
    collection: CollectionEventSpec | None = None

    @model_validator(mode="after")
    def _one_implementation(self) -> EventSpec:
        wanted = {
            "webhook": self.webhook,
            "global_webhook": self.global_webhook,
            "poll": self.poll,
            "collection": self.collection,
        }
        if wanted[self.type] is None:
            raise ValueError(f"an event of type {self.type} needs a {self.type} block")
        extra = [name for name, block in wanted.items() if name != self.type and block is not None]
        if extra:
            raise ValueError(f"an event of type {self.type} takes no {', '.join(extra)} block")
        return self

    def operations_used(self) -> list[tuple[str, str]]:
        """(field, operation name) pairs this event calls, for the reference check."""
        used: list[tuple[str, str]] = []
        if self.webhook is not None:
            for name in ("subscribe", "unsubscribe", "refresh"):
                call = getattr(self.webhook, name)
                if call is not None and call.operation is not None:
                    used.append((f"webhook.{name}.operation", call.operation))
        if self.poll is not None and self.poll.operation is not None:
            used.append(("poll.operation", self.poll.operation))
        return used

    def code_refs(self) -> list[tuple[tuple[str, ...], CodeRefSpec]]:
        """The JavaScript methods this event runs, with their field paths within it."""
        refs: list[tuple[tuple[str, ...], CodeRefSpec]] = []
        if self.webhook is not None:
            for name in ("subscribe", "unsubscribe", "refresh"):
                call = getattr(self.webhook, name)
                if call is not None and call.method is not None:
                    refs.append((("webhook", name, "method"), call.method))
            if self.webhook.handle.method is not None:
                refs.append((("webhook", "handle", "method"), self.webhook.handle.method))
        if self.poll is not None and self.poll.method is not None:
            refs.append((("poll", "method"), self.poll.method))
        return refs


class WebhooksSpec(SpecModel):
    """Connector-wide intake settings: the global webhook's verification and challenge.

    Per-subscription webhooks use their event's ``verification``/``challenge`` and fall back
    to these.
    """

    verification: SignatureSpec | None = None
    challenge: ChallengeSpec | None = None
