"""``connectory events ...``: subscriptions, webhook endpoints, the event feed, deliveries.

All talk to a running server (``--server`` / ``CONNECTORY_URL``, token in
``CONNECTORY_TOKEN``) and print JSON::

    connectory events subscribe CONNECTION_ID item_updated -p ttl=3600
    connectory events subscriptions [--connection ID]
    connectory events unsubscribe SUBSCRIPTION_ID
    connectory events endpoint-add https://example.com/hooks   # prints the secret once
    connectory events tail [--after N] [--follow]              # JSON Lines
    connectory events deliveries [--status dead]
    connectory events replay DELIVERY_ID
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import orjson
import typer

from connectory.cli.exchange_commands import _guard
from connectory.cli.options import DEFAULT_SERVER, Follow, Params, Server, Token
from connectory.cli.remote import RemoteApi
from connectory.cli.values import parse_pairs

events_app = typer.Typer(help="Event subscriptions, webhook endpoints and the event feed.")


def _print(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


@events_app.command("subscribe")
def subscribe(
    connection: Annotated[str, typer.Argument(help="The connection's id.")],
    event: Annotated[str, typer.Argument(help="The event's key in the connector.")],
    param: Params = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Subscribe a connection to an event."""

    def run() -> None:
        body = {"connection_id": connection, "event": event, "parameters": parse_pairs(param or [])}
        with RemoteApi(server, token) as api:
            _print(api.request("POST", "/subscriptions", json=body).json())

    _guard(run)


@events_app.command("subscriptions")
def subscriptions(
    # Not options.Connection: a filter of the list here, not where the command runs.
    connection: Annotated[
        str | None, typer.Option("--connection", help="Only this connection's subscriptions.")
    ] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """List subscriptions with their status, last error and lag."""

    def run() -> None:
        with RemoteApi(server, token) as api:
            params = {"connection_id": connection} if connection else {}
            _print(api.get_json("/subscriptions", **params))

    _guard(run)


@events_app.command("unsubscribe")
def unsubscribe(
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Delete a subscription (the provider is told by the worker)."""

    def run() -> None:
        with RemoteApi(server, token) as api:
            api.request("DELETE", f"/subscriptions/{subscription}")

    _guard(run)


@events_app.command("endpoint-add")
def endpoint_add(
    url: Annotated[str, typer.Argument(help="Where events are POSTed.")],
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this event type (repeatable).")
    ] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Register a webhook endpoint; its signing secret is printed this once."""

    def run() -> None:
        body: dict[str, Any] = {"url": url}
        if event_type:
            body["event_types"] = event_type
        with RemoteApi(server, token) as api:
            _print(api.request("POST", "/webhook-endpoints", json=body).json())

    _guard(run)


@events_app.command("endpoints")
def endpoints(server: Server = DEFAULT_SERVER, token: Token = None) -> None:
    """List webhook endpoints (secrets are never shown again)."""

    def run() -> None:
        with RemoteApi(server, token) as api:
            _print(api.get_json("/webhook-endpoints"))

    _guard(run)


@events_app.command("tail")
def tail(
    after: Annotated[int, typer.Option(help="Start after this cursor (seq).")] = 0,
    follow: Follow = False,
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this type.")] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Print events as JSON Lines from a cursor; ``--follow`` long-polls for more."""

    def run() -> None:
        cursor = after
        with RemoteApi(server, token, timeout=90) as api:
            while True:
                params: dict[str, Any] = {"after": cursor, "limit": 500}
                if type_:
                    params["type"] = type_
                if follow:
                    params["wait"] = 30
                page = api.get_json("/events", **params)
                for item in page["items"]:
                    sys.stdout.buffer.write(orjson.dumps(item) + b"\n")
                sys.stdout.flush()
                cursor = page["next_after"]
                if not follow and not page["items"]:
                    return
                if not page["items"]:
                    time.sleep(0.1)

    _guard(run)


@events_app.command("deliveries")
def deliveries(
    status: Annotated[str | None, typer.Option(help="pending, succeeded or dead.")] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """List deliveries (``--status dead``: the dead letters)."""

    def run() -> None:
        with RemoteApi(server, token) as api:
            _print(api.get_json("/deliveries", **({"status": status} if status else {})))

    _guard(run)


@events_app.command("replay")
def replay(
    delivery: Annotated[str, typer.Argument(help="The delivery's id.")],
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Send a dead-lettered delivery again."""

    def run() -> None:
        with RemoteApi(server, token) as api:
            _print(api.request("POST", f"/deliveries/{delivery}/replay").json())

    _guard(run)
