"""The Idempotency-Key a client sent with an upload, and the scan it made: a retry of the
same request (the answer was lost on the way back) gets that scan, not a second one."""

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    scan = models.ForeignKey("scans.Scan", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_scan_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
