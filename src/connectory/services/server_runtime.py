"""What the server needs to run connections: keys, the resilience pipeline, the egress guard."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.http.egress import EgressPolicy
from connectory.http.egress_aiohttp import GuardedAiohttpTransport
from connectory.js import JsCaps, JsEngine
from connectory.observability.calls import Telemetry
from connectory.resilience import (
    CircuitBreaker,
    RedisBreakerStore,
    RedisRateLimiter,
    ResiliencePipeline,
    create_redis,
)
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.generations import GenerationNotifier
from connectory.services.secret_store import SecretBox
from connectory.services.token_keeper import RefreshLocks
from connectory.settings import Settings
from connectory.vault import KeyRing, load_or_create_key_file, parse_keys_setting


def load_key_ring(settings: Settings) -> KeyRing:
    """The key ring from ``CONNECTORY_ENCRYPTION_KEYS``, else from the key file.

    Raises:
        ConfigurationError: missing, short, malformed or exposed keys; the server refuses to
            start rather than store secrets in clear.
    """
    if settings.encryption_keys is not None:
        return parse_keys_setting(settings.encryption_keys.get_secret_value())
    return load_or_create_key_file(settings.key_file_path)


def create_pipeline(settings: Settings) -> ResiliencePipeline:
    """In-process limiter and breaker, or Redis-backed ones shared by every server process."""
    if settings.redis_url is None:
        return ResiliencePipeline()
    redis = create_redis(settings.redis_url)
    return ResiliencePipeline(
        limiter=RedisRateLimiter(redis, prefix=settings.redis_prefix),
        breaker=CircuitBreaker(RedisBreakerStore(redis, prefix=settings.redis_prefix)),
    )


def transport_factory(settings: Settings) -> Callable[[], httpx.AsyncBaseTransport]:
    """Transports that refuse internal destinations except those allowlisted in settings.

    aiohttp carries the bytes: a server process is long-lived (its import is paid once) and
    calls on one connection run concurrently, where httpx's own pool costs several times more.
    """
    policy = EgressPolicy.allowing(settings.egress_allow_list)
    return lambda: GuardedAiohttpTransport(policy)


def create_js_engine(settings: Settings) -> JsEngine:
    """The server's JavaScript engine (V8 starts when a connector's code first runs)."""
    return JsEngine(
        isolation=settings.js_isolation,
        max_instances=settings.js_max_instances,
        max_workers=settings.js_max_workers,
        caps=JsCaps(
            max_time_limit=settings.js_max_time_limit,
            max_memory_limit=settings.js_max_memory_limit,
        ),
    )


def create_runtimes(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    notifier: GenerationNotifier | None = None,
    telemetry: Telemetry | None = None,
) -> ConnectionRuntimes:
    """The server's connection runtimes; *notifier*'s announcements retire stale clients.

    Every client records its calls to *telemetry* (call log, metrics, tracing).
    """
    redis = (
        create_redis(settings.redis_url, client_name="connectory-oauth-refresh")
        if settings.redis_url is not None
        else None
    )
    return ConnectionRuntimes(
        sessions,
        box,
        create_pipeline(settings),
        transport_factory(settings),
        max_clients=settings.client_cache_size,
        notifier=notifier,
        js_engine=create_js_engine(settings),
        refresh_locks=RefreshLocks(sessions, box, redis, prefix=settings.redis_prefix),
        telemetry=telemetry,
    )
