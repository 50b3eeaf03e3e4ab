"""The one function that writes the audit trail."""

from datetime import timedelta

from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditEvent

# A page polling a scan reads it every fraction of a second; one "view" per person, object
# and minute says the same thing as a hundred.
REPEAT_WINDOW = timedelta(minutes=1)
READS = (AuditEvent.Action.VIEW, AuditEvent.Action.DOWNLOAD)


def audit_record(*, request: HttpRequest, action: str, obj: models.Model) -> None:
    """Records that request.user did `action` on `obj`; stores ids only, never names."""
    event = AuditEvent(
        actor=request.user,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )
    if (
        action in READS
        and AuditEvent.objects.filter(
            actor=event.actor,
            action=action,
            object_type=event.object_type,
            object_id=event.object_id,
            ip_address=event.ip_address,
            at__gte=timezone.now() - REPEAT_WINDOW,
        ).exists()
    ):
        return
    event.save()
