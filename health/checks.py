"""What the health views check. Each check returns a short status or raises; none imports
TensorFlow (weights are hashed through scans.ml.registry)."""

import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery_app import app as celery_app
from health.models import WorkerHeartbeat
from scans.ml import registry

# The queues a working site needs a consumer on (CELERY_TASK_ROUTES).
QUEUES = ("ml", "default")
# The one without which nothing gets classified: /readyz is 503 without it.
REQUIRED_QUEUE = "ml"

_verified: dict[tuple, str] = {}


def database_check() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def broker_check() -> str:
    """A PING on a connection of the app's pool (one round trip; a new connection costs about
    ten), and a fresh connection only when that fails: after a Redis restart the kept one is
    stale while Redis itself is fine."""
    try:
        with celery_app.pool.acquire(block=True, timeout=3) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            client = getattr(conn.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()
        return "ok"
    except Exception:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
        return "ok"


def weights_check(name: str) -> str:
    """ "ok", "not installed" (fine for an optional model) or raises WeightsError.

    A hash is remembered per (path, size, mtime), so polling does not re-read a large file.
    """
    if not registry.weights_available(name):
        return "not installed"
    path = registry.get_spec(name).weights_path
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = registry.verify_weights(name)
    return "ok"


@dataclass(frozen=True)
class QueueStatus:
    workers: int  # workers whose heartbeat is fresh
    heartbeat_age_s: float | None  # of the newest heartbeat; None: no worker ever seen
    backlog: int | None  # messages waiting; None when the broker could not say

    @property
    def served(self) -> bool:
        return self.workers > 0

    def as_dict(self) -> dict:
        age = None if self.heartbeat_age_s is None else round(self.heartbeat_age_s, 1)
        return {"workers": self.workers, "heartbeat_age_s": age, "backlog": self.backlog}


def queues_status() -> dict[str, QueueStatus]:
    now = timezone.now()
    newest: dict[str, float] = {}
    fresh: dict[str, int] = dict.fromkeys(QUEUES, 0)
    for beat in WorkerHeartbeat.objects.all():
        age = (now - beat.seen_at).total_seconds()
        for queue in beat.queue_names:
            newest[queue] = min(age, newest.get(queue, age))
            if age <= settings.WORKER_HEARTBEAT_STALE_AFTER:
                fresh[queue] = fresh.get(queue, 0) + 1
    backlog = queue_backlogs()
    return {queue: QueueStatus(fresh.get(queue, 0), newest.get(queue), backlog.get(queue)) for queue in QUEUES}


def queue_backlogs() -> dict[str, int]:
    """Messages waiting in each queue, as the broker counts them (Redis: the list's length);
    empty when the broker cannot be reached."""
    counts: dict[str, int] = {}
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            channel = conn.default_channel
            for queue in QUEUES:
                try:
                    counts[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:
                    # Not declared yet: no worker has ever consumed it and nothing was sent.
                    counts[queue] = 0
    except Exception:
        return {}
    return counts
