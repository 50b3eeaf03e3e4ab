"""The machine's PostgreSQL and Redis: stop, start, and put back as they were, whatever happens.

The commands are the ones .ci/run uses to start them. Only 127.0.0.1 is ever touched.
"""

import os
import subprocess
import time
from pathlib import Path

REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def _run(command: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def redis_up() -> bool:
    return _run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], timeout=5).stdout.strip() == "PONG"


def redis_stop() -> None:
    """Without saving: every message queued in Redis is lost, as in a crash."""
    _run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], timeout=10)
    _wait(lambda: not redis_up(), 10, "Redis to stop")


def redis_start() -> None:
    Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
    _run(REDIS_START)
    _wait(redis_up, 15, "Redis to start")


def _cluster_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def postgres_up() -> bool:
    return _run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], timeout=5).returncode == 0


def postgres_stop() -> None:
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main", "stop", "-m", "fast"], timeout=60)
    _wait(lambda: not postgres_up(), 30, "PostgreSQL to stop")


def postgres_start() -> None:
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main", "start"], timeout=60)
    _wait(postgres_up, 30, "PostgreSQL to start")


def restore_services() -> list[str]:
    """Starts whichever of the two is down; returns what had to be restored."""
    restored = []
    if not redis_up():
        redis_start()
        restored.append("redis")
    if not postgres_up():
        postgres_start()
        restored.append("postgresql")
    return restored


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")
