"""Retries with exponential back-off inside one overall time budget.

This is the only retry loop on the way to Gemini: the SDK's own retries are switched off
(see gemini.py), so attempts, back-off and timeouts all count against the same budget.
"""

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AttemptError(Exception):
    """One attempt failed; `retryable` says whether another attempt could help."""

    def __init__(self, reason: str, *, retryable: bool):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class GaveUp(Exception):
    """No attempt succeeded; `reason` says why, in one line fit for a status field."""

    def __init__(self, reason: str, *, attempts: int):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


def backoff_delay(retry_number: int, *, base_s: float, cap_s: float) -> float:
    """Delay before retry n (1-based): base·2^(n-1), capped, with jitter.

    The jitter (50–100 % of the delay) keeps workers that hit the same 429 from
    retrying in lockstep.
    """
    jitter = random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not cryptography
    return min(cap_s, base_s * 2 ** (retry_number - 1)) * jitter


def call_with_retries(
    attempt: Callable[[float], T],
    *,
    max_attempts: int,
    timeout_s: float,
    backoff_base_s: float,
    backoff_cap_s: float,
    budget_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call `attempt(timeout_s)` until it returns; return (its result, attempts made).

    Each call gets the smaller of timeout_s and the budget left. Raise GaveUp on an error that
    is not retryable, after max_attempts, or when the next back-off would outlast the budget.
    """
    deadline = clock() + budget_s
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt(min(timeout_s, deadline - clock())), attempts
        except AttemptError as exc:
            logger.warning("Gemini attempt %d/%d failed: %s", attempts, max_attempts, exc.reason)
            if not exc.retryable:
                raise GaveUp(exc.reason, attempts=attempts) from exc
            if attempts >= max_attempts:
                raise GaveUp(
                    f"{exc.reason} (after {attempts} attempts)", attempts=attempts
                ) from exc
            delay = backoff_delay(attempts, base_s=backoff_base_s, cap_s=backoff_cap_s)
            if clock() + delay >= deadline:
                raise GaveUp(
                    f"{exc.reason} (time budget of {budget_s:g} s spent after {attempts} attempts)",
                    attempts=attempts,
                ) from exc
            sleep(delay)
