"""The request cache on its own: TTL on an injected clock, announcements, no stale fill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectory.services.connections import ConnectionDetails
from connectory.services.generations import GenerationNotifier
from connectory.services.principal import Principal
from connectory.services.request_cache import RequestCache
from connectory.store.models import Connection

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
VIEWER = Principal("u1", "viewer", "e1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def details(connection_id: str = "c1", **values: Any) -> ConnectionDetails:
    row = Connection(
        id=connection_id,
        enterprise_id=values.pop("enterprise_id", "e1"),
        health=values.pop("health", "healthy"),
        generation=values.pop("generation", 1),
        deleted_at=None,
    )
    return ConnectionDetails(row, None, None, None, set())  # type: ignore[arg-type]


def cache(ttl: float = 5.0) -> tuple[RequestCache, FakeClock, GenerationNotifier]:
    clock = FakeClock()
    notifier = GenerationNotifier()
    return RequestCache(ttl, notifier, clock=clock), clock, notifier


def test_entries_expire_after_the_ttl_on_the_injected_clock() -> None:
    requests, clock, _ = cache(ttl=5.0)
    requests.remember_principal("h", VIEWER, None, requests.epoch())
    requests.remember_connection(details(), requests.epoch())
    clock.now += 4.999
    assert requests.principal("h", NOW) == VIEWER
    assert requests.connection(VIEWER, "c1") is not None
    clock.now += 0.001
    assert requests.principal("h", NOW) is None
    assert requests.connection(VIEWER, "c1") is None


def test_a_token_is_not_used_past_its_expiry() -> None:
    requests, _, _ = cache()
    requests.remember_principal("h", VIEWER, NOW + timedelta(seconds=1), requests.epoch())
    assert requests.principal("h", NOW) == VIEWER
    assert requests.principal("h", NOW + timedelta(seconds=1)) is None


def test_a_read_that_raced_an_announcement_is_not_kept() -> None:
    requests, _, notifier = cache()
    epoch = requests.epoch()  # a request starts reading the database...
    notifier.deliver({"c1": 2})  # ...a change is announced meanwhile...
    requests.remember_connection(details(generation=1), epoch)  # ...what it read is old
    requests.remember_principal("h", VIEWER, None, epoch)
    assert requests.connection(VIEWER, "c1") is None
    assert requests.principal("h", NOW) is None


def test_announcements_drop_what_they_name() -> None:
    requests, _, notifier = cache()
    requests.remember_connection(details("c1", generation=3), requests.epoch())
    requests.remember_connection(details("c2"), requests.epoch())
    requests.remember_principal("h1", VIEWER, None, requests.epoch())
    requests.remember_principal("h2", Principal("u2", "viewer", "e1"), None, requests.epoch())
    notifier.deliver({"c1": 3})  # not newer than the cached copy: kept
    assert requests.connection(VIEWER, "c1") is not None
    notifier.deliver({"c1": 4})
    assert requests.connection(VIEWER, "c1") is None
    notifier.deliver({"health:c2": 0})
    assert requests.connection(VIEWER, "c2") is None
    notifier.deliver({"user:u1": 0})
    assert requests.principal("h1", NOW) is None
    assert requests.principal("h2", NOW) is not None
    notifier.deliver_gap()
    assert requests.principal("h2", NOW) is None


def test_only_the_callers_enterprise_and_healthy_connections_are_served() -> None:
    requests, _, _ = cache()
    requests.remember_connection(details("c1"), requests.epoch())
    requests.remember_connection(details("c2", health="degraded"), requests.epoch())
    assert requests.connection(Principal("u9", "viewer", "e2"), "c1") is None
    assert requests.connection(Principal("admin", "platform_admin", None), "c1") is None
    assert requests.connection(VIEWER, "c1") is not None
    assert requests.connection(VIEWER, "c2") is None


def test_a_ttl_of_zero_keeps_nothing_and_the_size_is_capped() -> None:
    off = RequestCache(0)
    off.remember_principal("h", VIEWER, None, off.epoch())
    assert off.principal("h", NOW) is None
    small = RequestCache(5, max_entries=2)
    for name in ("a", "b", "c"):
        small.remember_principal(name, VIEWER, None, small.epoch())
    assert small.principal("a", NOW) is None
    assert small.principal("c", NOW) == VIEWER
