"""The retry loop: exponential back-off with a cap, inside one time budget."""

import subprocess
import sys

import pytest

from scans.explain.retry import AttemptError, GaveUp, backoff_delay, call_with_retries


class FakeTime:
    """A clock that moves only when the code under test sleeps or an attempt takes time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(attempt, time: FakeTime, **overrides):
    options = dict(max_attempts=4, timeout_s=10, backoff_base_s=1, backoff_cap_s=3, budget_s=100)
    options.update(overrides)
    return call_with_retries(attempt, clock=time.clock, sleep=time.sleep, **options)


def failing(retryable=True, *, takes_s=0.0, time=None, timeouts=None):
    def attempt(timeout_s):
        if timeouts is not None:
            timeouts.append(timeout_s)
        if time is not None:
            time.now += min(takes_s, timeout_s)  # a real request gives up at its timeout
        raise AttemptError("HTTP 503", retryable=retryable)

    return attempt


def test_the_budget_the_worker_reads_stays_under_two_minutes():
    from scans.explain_settings import explain_config

    assert explain_config().budget_s < 120


# Run in a fresh interpreter: the task's rate limit is fixed when scans.tasks is imported,
# and the test settings configure no key.
RATE_LIMIT_WITH_A_KEY = """
from django.conf import settings
settings.GEMINI_API_KEY = "a-key"
import django
django.setup()
from scans import tasks
print(tasks.explain_scan.rate_limit, settings.GEMINI_RATE_LIMIT)
"""


def test_with_a_key_set_explain_scan_is_rate_limited_by_the_setting():
    from tests.conftest import REPO_ROOT

    done = subprocess.run(
        [sys.executable, "-c", RATE_LIMIT_WITH_A_KEY],
        cwd=REPO_ROOT,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "GEMINI_RATE_LIMIT": "7/m", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    rate_limit, setting = done.stdout.split()
    assert rate_limit == setting == "7/m"


@pytest.mark.parametrize(
    "retry_number, full_delay", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]
)
def test_backoff_doubles_up_to_the_cap_with_jitter(retry_number, full_delay):
    delays = [backoff_delay(retry_number, base_s=1, cap_s=8) for _ in range(50)]

    assert all(full_delay / 2 <= d <= full_delay for d in delays)


def test_it_returns_the_result_and_the_number_of_attempts():
    time = FakeTime()
    outcomes = iter([AttemptError("HTTP 429", retryable=True), "done"])

    def attempt(timeout_s):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert run(attempt, time) == ("done", 2)
    assert len(time.sleeps) == 1


def test_it_gives_up_after_max_attempts_with_growing_capped_sleeps():
    time = FakeTime()

    with pytest.raises(GaveUp, match=r"HTTP 503 \(after 4 attempts\)") as caught:
        run(failing(), time)

    assert caught.value.attempts == 4
    assert len(time.sleeps) == 3
    assert all(full / 2 <= s <= full for s, full in zip(time.sleeps, [1, 2, 3], strict=True))


def test_it_does_not_retry_an_error_that_is_not_retryable():
    time = FakeTime()

    with pytest.raises(GaveUp) as caught:
        run(failing(retryable=False), time)

    assert caught.value.attempts == 1
    assert time.sleeps == []


def test_each_attempt_gets_at_most_the_budget_left():
    time, timeouts = FakeTime(), []

    with pytest.raises(GaveUp, match="time budget of 25 s spent"):
        run(
            failing(time=time, takes_s=10, timeouts=timeouts), time, budget_s=25, backoff_base_s=0.5
        )

    assert timeouts[0] == 10
    assert 0 < timeouts[-1] < 10
    assert time.now <= 25


def test_it_never_sleeps_past_the_budget():
    time = FakeTime()

    with pytest.raises(GaveUp, match="time budget"):
        run(
            failing(time=time, takes_s=1),
            time,
            max_attempts=100,
            backoff_base_s=2,
            backoff_cap_s=2,
            budget_s=6,
        )

    assert time.now <= 6
