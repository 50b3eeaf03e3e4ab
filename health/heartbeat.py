"""Each Celery worker writes a heartbeat row every WORKER_HEARTBEAT_SECONDS from a thread in
its main process, from the moment it is ready to consume until it shuts down cleanly. A
worker that is SIGKILLed or hangs simply stops writing; /readyz notices within a minute."""

import contextlib
import logging
import os
import threading
from datetime import timedelta

from celery.signals import worker_ready, worker_shutdown
from django import db
from django.conf import settings
from django.utils import timezone

from health.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Rows of workers gone this long are deleted, so the table holds only recent machines.
FORGET_AFTER = timedelta(days=1)

_stop = threading.Event()


def heartbeat_write(*, hostname: str, queues: list[str], started_at) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={"queues": ",".join(sorted(queues)), "pid": os.getpid(), "started_at": started_at, "seen_at": now},
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()


def _beat(hostname: str, queues: list[str]) -> None:
    started_at = timezone.now()
    while not _stop.is_set():
        try:
            heartbeat_write(hostname=hostname, queues=queues, started_at=started_at)
        except db.Error as error:
            # The database is away: the heartbeat resumes when it returns.
            logger.warning("heartbeat not written: %s", type(error).__name__)
        finally:
            db.connection.close()
        _stop.wait(settings.WORKER_HEARTBEAT_SECONDS)


@worker_ready.connect
def start_heartbeat(sender, **kwargs) -> None:
    # Sent again each time the consumer reconnects to the broker: one thread is enough.
    if any(thread.name == "heartbeat" and thread.is_alive() for thread in threading.enumerate()):
        return
    hostname = sender.hostname
    queues = list(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    _stop.clear()
    threading.Thread(target=_beat, args=(hostname, queues), name="heartbeat", daemon=True).start()
    logger.info("heartbeat started for %s (%s)", hostname, ",".join(queues))


@worker_shutdown.connect
def stop_heartbeat(sender, **kwargs) -> None:
    _stop.set()
    with contextlib.suppress(db.Error):
        WorkerHeartbeat.objects.filter(hostname=sender.hostname).delete()
