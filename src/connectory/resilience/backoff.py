"""How long to wait before retry number *n*: the three backoff shapes, the cap and full jitter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

BackoffShape = Literal["none", "linear", "exponential"]


class BackoffParams(Protocol):
    """The policy fields that shape delays (:class:`~connectory.spec.ResilienceSpec` fits)."""

    @property
    def retry_backoff(self) -> BackoffShape:
        """``none``, ``linear`` or ``exponential``."""
        ...

    @property
    def retry_delay(self) -> float:
        """Seconds before the first retry."""
        ...

    @property
    def max_retry_delay(self) -> float:
        """Cap on any single delay, applied before jitter."""
        ...

    @property
    def retry_jitter(self) -> bool:
        """Draw the delay uniformly from ``[0, delay)`` (full jitter)."""
        ...


def compute_base_delay(retry_number: int, shape: BackoffShape, delay: float, cap: float) -> float:
    """Return the capped delay before retry *retry_number*, without jitter.

    ``none`` waits *delay* every time; ``linear`` waits ``delay * n``; ``exponential`` waits
    ``delay * 2 ** (n - 1)``, so the first retry always waits exactly *delay*.

    Args:
        retry_number: 1 for the first retry (the second attempt), 2 for the next, ...
        shape: The backoff shape.
        delay: The base delay in seconds.
        cap: No delay exceeds this.

    Returns:
        Seconds to wait.

    Raises:
        ValueError: *retry_number* is below 1.
    """
    if retry_number < 1:
        raise ValueError("retry numbers start at 1")
    if shape == "none":
        raw = delay
    elif shape == "linear":
        raw = delay * retry_number
    else:
        # Bound the exponent: 2**1100 overflows a float, and the cap is reached long before.
        raw = delay * 2.0 ** min(retry_number - 1, 1000)
    return min(raw, cap)


def compute_delay(retry_number: int, params: BackoffParams, random: Callable[[], float]) -> float:
    """Return the delay before retry *retry_number* under *params*, with jitter if enabled.

    Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") draws uniformly from
    ``[0, capped_delay)``: it spreads synchronised clients best and never exceeds the cap.

    Args:
        retry_number: 1 for the first retry.
        params: Backoff shape, base delay, cap and jitter switch.
        random: Returns a float in ``[0, 1)``, e.g. ``random.Random(seed).random``.

    Returns:
        Seconds to wait.
    """
    base = compute_base_delay(
        retry_number, params.retry_backoff, params.retry_delay, params.max_retry_delay
    )
    if not params.retry_jitter:
        return base
    return base * random()
