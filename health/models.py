"""Worker heartbeats: the readiness view's evidence that someone consumes each queue.

In the database, not in the broker or a cache, because every web machine must see every
worker machine's heartbeat and the embedded default has no shared cache.
"""

from django.db import models


class WorkerHeartbeat(models.Model):
    hostname = models.CharField(max_length=200, unique=True)  # Celery's node name: ml@host
    queues = models.CharField(max_length=200)  # the queues it consumes, comma-separated
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} ({self.queues})"

    @property
    def queue_names(self) -> list[str]:
        return [name for name in self.queues.split(",") if name]
