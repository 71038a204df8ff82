"""Server settings, read from ``CONNECTORY_*`` environment variables (or passed in by tests).

Build the app with ``create_app(Settings(...))`` so tests can swap any setting. The embedded
default needs nothing: a SQLite file under ``./var``, in-process limiter and breaker state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the server can be configured with."""

    model_config = SettingsConfigDict(env_prefix="CONNECTORY_", extra="forbid")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/connectory.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or "
        "postgresql+asyncpg://user@host/db.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for limiter, breaker and token state shared by several processes; "
        "unset keeps that state in this process.",
    )
    redis_prefix: str = Field(
        default="connectory:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key and channel, so deployments can share a Redis.",
    )
    client_cache_size: int = Field(
        default=256,
        ge=1,
        description="Connections whose clients (pooled HTTP connections, tokens) are kept warm; "
        "the least recently used beyond it close once their calls in flight finish.",
    )
    request_cache_ttl: float = Field(
        default=5.0,
        ge=0,
        description="Seconds an operation call may reuse the caller's token check and the "
        "connection read by an earlier request without reading the database; changes are "
        "announced to every process at once, so this bounds only announcements that were "
        "lost. 0 reads the database on every call.",
    )
    gc_young_threshold: int = Field(
        default=10_000,
        ge=0,
        description="connectory serve and worker, once started: freeze what start-up made out of "
        "the garbage collector's reach and collect the youngest generation every this many "
        "allocations (Python's default is 700); 0 leaves the collector as Python sets it.",
    )
    data_dir: Path = Field(default=Path("./var"), description="Where local files are kept.")
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest request body accepted (413)."
    )
    max_url_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Longest request URL (path and query) accepted (414); send more in a body.",
    )
    max_head_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=16 * 1024,
        description="Largest request line and headers the HTTP server reads. Longer URLs up to "
        "this size get a clear 414 from Connectory; beyond it the HTTP server answers 400 and "
        "closes the connection.",
    )
    max_page_size: int = Field(default=200, ge=1, le=1000, description="Cap on list page size.")
    default_page_size: int = Field(default=50, ge=1)
    examples_dir: Path | None = Field(
        default=None,
        description="Connectors loaded into the catalogue (published) when the database is new.",
    )
    bootstrap_admin_email: str = Field(
        default="admin@localhost", description="Email of the first Platform Admin."
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Encryption keys as version:base64 pairs (1:...,2:...); several servers "
        "share keys this way. Unset: the key file is used (created on first start).",
    )
    key_file: Path | None = Field(
        default=None, description="Key file; default <data_dir>/keys.json, owner-only."
    )
    stream_keepalive_interval: float = Field(
        default=15,
        gt=0,
        le=15,
        description="Longest silence, in seconds, of a streamed JSON Lines answer: while a "
        "read waits (rate limit, Retry-After, a slow page) a keep-alive line is sent this often.",
    )
    egress_allow: str = Field(
        default="",
        description="Comma-separated hosts, addresses or CIDR ranges connectors may reach "
        "although they are internal (loopback, private networks). Empty: public only.",
    )
    js_isolation: Literal["process", "inprocess"] = Field(
        default="process",
        description="Where connector JavaScript runs: process (V8 in worker processes, one "
        "tenant each: code that crashes V8 costs a worker) or inprocess (faster, for code "
        "you trust).",
    )
    js_max_instances: int = Field(
        default=64, ge=1, description="JavaScript engine instances kept warm (all tenants)."
    )
    js_max_workers: int = Field(
        default=8, ge=1, description="JavaScript worker processes (process isolation)."
    )
    js_max_time_limit: float = Field(
        default=30, gt=0, le=60, description="Cap on a connector's javascript.time_limit (s)."
    )
    js_max_memory_limit: int = Field(
        default=512, ge=16, le=1024, description="Cap on javascript.memory_limit (MiB)."
    )

    public_url: str | None = Field(
        default=None,
        description="Where browsers and providers reach this deployment "
        "(https://connectory.example.com): webhook intake URLs and the OAuth redirect URI "
        "(<public_url>/oauth/callback) are built on it. Unset: subscribing to a webhook and "
        "starting an OAuth flow are refused, except on the embedded default (SQLite), which "
        "uses its own address.",
    )
    oauth_flow_minutes: float = Field(
        default=10,
        gt=0,
        le=60,
        description="How long a person has to complete an OAuth authorization once it started "
        "(the state expires then). The redirect URI is <CONNECTORY_PUBLIC_URL>/oauth/callback.",
    )
    oauth_refresh_horizon_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 90,
        description="The background engine refreshes idle connections' OAuth2 grants whose "
        "refresh token expires within this many hours (looked at every five minutes).",
    )
    run_worker: bool | None = Field(
        default=None,
        description="Run the background worker inside the server. Unset: yes; set false on "
        "API processes when `connectory worker` processes run the background work.",
    )
    worker_concurrency: int = Field(default=8, ge=1, le=256, description="Tasks run at once.")
    event_retention_days: int = Field(default=30, ge=1, description="Days events are kept.")
    event_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        le=600,
        description="Longest an event long-poll waits (GET /events?wait=), and how long an "
        "event stream (GET /events/stream) stays open without an event before it closes "
        "(clients reconnect with Last-Event-ID). Keep it under proxies' idle timeouts.",
    )
    max_intake_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest webhook body accepted (413)."
    )
    delivery_max_attempts: int = Field(
        default=12, ge=1, description="Tries of a delivery before it is dead-lettered."
    )
    delivery_backoff_seconds: float = Field(
        default=5.0, gt=0, description="Wait after the first failed try; doubled each time."
    )
    delivery_backoff_max_seconds: float = Field(
        default=7200.0, gt=0, description="Longest wait between two tries."
    )
    delivery_timeout_seconds: float = Field(default=15.0, gt=0, description="Per try.")
    work_lease_seconds: float = Field(
        default=120.0,
        ge=1,
        description="How long a claimed delivery, poll or webhook is a worker's; after a "
        "worker dies, its claims are taken over once this passes.",
    )
    secret_rotation_overlap_hours: float = Field(
        default=24.0, ge=0, description="How long a rotated endpoint secret still signs."
    )
    call_log: bool = Field(
        default=True,
        description="Record every call of every connection in its call log "
        "(docs/observability.md).",
    )
    call_log_max_age_days: float = Field(
        default=7, gt=0, le=3650, description="Call log entries older than this are deleted."
    )
    call_log_max_entries: int = Field(
        default=10_000, ge=1, le=10_000_000, description="Call log entries kept per connection."
    )
    call_log_excerpt_bytes: int = Field(
        default=2048,
        ge=0,
        le=65536,
        description="Cap on each request and response excerpt of the call log (redacted).",
    )
    call_log_buffer_size: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Entries held in memory waiting to be written; beyond it they are dropped "
        "(and counted), never waited for.",
    )
    call_log_flush_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between batched writes of the call log."
    )
    metrics: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires (always accepted). Without it /metrics "
        "answers only while the server is bound to a loopback address.",
    )
    metrics_connection_labels: bool = Field(
        default=False,
        description="Label call metrics with connection ids too (one series per connection).",
    )
    bind_host: str | None = Field(
        default=None,
        max_length=255,
        description="The address the server listens on (connectory serve sets it); decides "
        "whether /metrics needs its token. Unset: the address each request arrived on.",
    )
    tracing: bool = Field(
        default=False,
        description="Export OpenTelemetry traces; the exporter is configured by the standard "
        "OTEL_* environment variables (OTLP over HTTP by default).",
    )

    @property
    def key_file_path(self) -> Path:
        """The key file actually used."""
        return self.key_file or self.data_dir / "keys.json"

    @property
    def egress_allow_list(self) -> list[str]:
        """``egress_allow`` split into entries."""
        return [entry.strip() for entry in self.egress_allow.split(",") if entry.strip()]

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Plain URLs are accepted and given the async driver Connectory ships with.
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        return value
