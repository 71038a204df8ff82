"""Backoff shapes, the cap and full jitter."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectory.resilience import compute_base_delay, compute_delay
from connectory.spec.resilience import ResilienceSpec


def spec(**changes: Any) -> ResilienceSpec:
    return ResilienceSpec(**{"retry_jitter": False, **changes})


def sequence(params: ResilienceSpec, count: int) -> list[float]:
    never = random.Random(0).random
    return [compute_delay(n, params, never) for n in range(1, count + 1)]


def test_none_waits_the_delay_every_time() -> None:
    assert sequence(spec(retry_backoff="none", retry_delay=1.5), 5) == [1.5] * 5


def test_linear_grows_by_the_delay() -> None:
    assert sequence(spec(retry_backoff="linear", retry_delay=1.5), 5) == [1.5, 3.0, 4.5, 6.0, 7.5]


def test_exponential_doubles_from_the_delay() -> None:
    assert sequence(spec(retry_backoff="exponential", retry_delay=0.5), 6) == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
    ]


def test_seed_defaults_give_1_2_4() -> None:
    assert sequence(spec(), 3) == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("none", [3.0, 3.0, 3.0, 3.0]),
        ("linear", [3.0, 5.0, 5.0, 5.0]),
        ("exponential", [3.0, 5.0, 5.0, 5.0]),
    ],
)
def test_every_shape_is_capped(shape: str, expected: list[float]) -> None:
    params = spec(retry_backoff=shape, retry_delay=3, max_retry_delay=5)
    assert sequence(params, 4) == expected


def test_a_huge_exponent_does_not_overflow() -> None:
    assert compute_base_delay(5000, "exponential", 1.0, 60.0) == 60.0


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        compute_base_delay(0, "none", 1.0, 60.0)


def test_full_jitter_is_uniform_below_the_capped_delay() -> None:
    params = spec(retry_backoff="exponential", retry_delay=1, max_retry_delay=10, retry_jitter=True)
    rng = random.Random(2024)
    for retry_number, ceiling in [(1, 1.0), (3, 4.0), (8, 10.0)]:
        samples = [compute_delay(retry_number, params, rng.random) for _ in range(20_000)]
        assert all(0.0 <= s < ceiling for s in samples)
        # Uniform on [0, ceiling): mean ceiling/2, and both ends of the range are reached.
        assert statistics.fmean(samples) == pytest.approx(ceiling / 2, rel=0.02)
        assert min(samples) < ceiling * 0.01
        assert max(samples) > ceiling * 0.99
        # A flat histogram: every tenth of the range gets about a tenth of the samples.
        buckets = [0] * 10
        for s in samples:
            buckets[int(s / ceiling * 10)] += 1
        assert all(1_700 < b < 2_300 for b in buckets)


def test_jitter_off_uses_the_exact_delay() -> None:
    params = spec(retry_delay=2, retry_jitter=False)
    assert compute_delay(2, params, lambda: 0.0) == 4.0


@given(
    shape=st.sampled_from(["none", "linear", "exponential"]),
    delay=st.floats(min_value=0, max_value=1000, allow_nan=False),
    cap=st.floats(min_value=0.001, max_value=1000, allow_nan=False),
    retry_number=st.integers(min_value=1, max_value=25),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_delays_never_exceed_the_cap_and_jitter_never_adds(
    shape: str, delay: float, cap: float, retry_number: int, draw: float
) -> None:
    exact = spec(retry_backoff=shape, retry_delay=delay, max_retry_delay=cap)
    jittered = spec(retry_backoff=shape, retry_delay=delay, max_retry_delay=cap, retry_jitter=True)
    base = compute_delay(retry_number, exact, lambda: draw)
    assert 0.0 <= base <= cap
    assert 0.0 <= compute_delay(retry_number, jittered, lambda: draw) <= base
