"""The ``resilience`` section: timeouts, retries, rate limit and circuit breaker.

Field names and defaults are the seed's Resilience table. A connector sets them once; an
operation may override any of them with a partial block of the same fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from connectory.spec.base import SpecModel

Backoff = Literal["none", "linear", "exponential"]
RateLimitScope = Literal["enterprise", "deployment"]
_NULLABLE = frozenset({"rate_limit", "connector_rate_limit"})

#: Upper bound of ``max_read_wait`` (a day): quotas that reset daily are the longest in use.
MAX_READ_WAIT_LIMIT = 86_400


def _lower(value: Any) -> Any:
    # The seed writes "None, Linear, Exponential" in its table; accept any case.
    return value.lower() if isinstance(value, str) else value


class ResilienceSpec(SpecModel):
    """How calls handle failures. Defaults are the seed's Resilience table."""

    timeout: float = Field(
        default=30,
        gt=0,
        allow_inf_nan=False,  # .inf would pass gt=0 and overflow the wire's millisecond timeouts
        description="Seconds to wait for a response: one call, or one page of a read, retries "
        "included. A read's rate-limit and Retry-After pauses are not counted (max_read_wait).",
    )
    max_retries: int = Field(default=3, ge=0, le=20, description="Retries after the first attempt.")
    retry_delay: float = Field(
        default=1, ge=0, allow_inf_nan=False, description="Seconds before the first retry."
    )
    retry_backoff: Backoff = Field(
        default="exponential", description="How the delay grows: none, linear or exponential."
    )
    retry_jitter: bool = Field(default=True, description="Randomise delays (full jitter).")
    max_retry_delay: float = Field(
        default=60, gt=0, allow_inf_nan=False, description="Cap on any single delay."
    )
    respect_retry_after: bool = Field(
        default=True, description="Wait as long as Retry-After / X-RateLimit-Reset asks."
    )
    rate_limit: int | None = Field(
        default=60, ge=1, description="Requests per minute per connection; null for no limit."
    )
    connector_rate_limit: int | None = Field(
        default=None,
        ge=1,
        description="Requests per minute across all connections of the connector (see "
        "connector_rate_limit_scope).",
    )
    connector_rate_limit_scope: RateLimitScope = Field(
        default="enterprise",
        description="Who shares connector_rate_limit: 'enterprise' (default) gives each "
        "enterprise its own budget on the connector; 'deployment' makes every connection of "
        "the connector, in every enterprise, share one budget (e.g. a platform-owned OAuth "
        "app's quota). Connector-wide only: operations cannot override it.",
    )
    max_read_wait: float = Field(
        default=300,
        ge=0,
        le=MAX_READ_WAIT_LIMIT,
        description="Longest single pause of a paginated read for the rate limit or the "
        "upstream's Retry-After, in seconds; a longer one ends the read with RateLimited.",
    )
    circuit_breaker_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open the circuit."
    )
    circuit_breaker_recovery: float = Field(
        default=30, gt=0, description="Seconds the circuit stays open before one test request."
    )

    @field_validator("retry_backoff", mode="before")
    @classmethod
    def _lower_backoff(cls, value: Any) -> Any:
        return _lower(value)

    def with_overrides(self, overrides: ResilienceOverrideSpec | None) -> ResilienceSpec:
        """Return a copy with the fields *overrides* sets replaced."""
        if overrides is None:
            return self
        changes = {
            name: value
            for name, value in overrides.model_dump(exclude_unset=True).items()
            # An explicit null only means something for the limits: "no limit".
            if value is not None or name in _NULLABLE
        }
        return self.model_copy(update=changes) if changes else self


class ResilienceOverrideSpec(SpecModel):
    """A partial ``resilience`` block on an operation: only the fields it sets change."""

    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    retry_delay: float | None = Field(default=None, ge=0)
    retry_backoff: Backoff | None = None
    retry_jitter: bool | None = None
    max_retry_delay: float | None = Field(default=None, gt=0)
    respect_retry_after: bool | None = None
    rate_limit: int | None = Field(default=None, ge=1)
    connector_rate_limit: int | None = Field(default=None, ge=1)
    max_read_wait: float | None = Field(default=None, ge=0, le=MAX_READ_WAIT_LIMIT)
    circuit_breaker_threshold: int | None = Field(default=None, ge=1)
    circuit_breaker_recovery: float | None = Field(default=None, gt=0)

    @field_validator("retry_backoff", mode="before")
    @classmethod
    def _lower_backoff(cls, value: Any) -> Any:
        return _lower(value)
