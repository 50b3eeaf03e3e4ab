"""The functions that write the audit trail. Views, the API and the admin call them with one line."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from audit.client import client_address
from audit.models import AuditEvent

# A page polling a scan reads it every fraction of a second; one "view" per person, object
# and minute says the same thing as a hundred.
REPEAT_WINDOW = timedelta(minutes=1)
READS = (AuditEvent.Action.VIEW, AuditEvent.Action.LIST, AuditEvent.Action.DOWNLOAD)


def patient_id_of(obj: models.Model) -> int | None:
    """The patient whose data `obj` is: the patient itself, a scan's, a review's scan's."""
    if obj._meta.model_name == "patient":
        return obj.pk
    if hasattr(obj, "patient_id"):
        return obj.patient_id
    scan = getattr(obj, "scan", None)
    return getattr(scan, "patient_id", None)


def audit_record(*, request: HttpRequest, action: str, obj: models.Model) -> None:
    """Records that request.user did `action` on `obj`; stores ids only, never names.

    An image download is not recorded when the same person read the same patient's data in
    the last minute: the page that showed the thumbnails is already in the trail, and one
    event per thumbnail would bury what matters.
    """
    event = AuditEvent(
        actor=request.user,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        patient_id=patient_id_of(obj),
        ip_address=client_address(request),
    )
    if action in READS and _recently(event).exists():
        return
    event.save()


def audit_list(*, request: HttpRequest, patient_ids: Iterable[int]) -> None:
    """Records that request.user saw these patients in a list (one event per patient, once a
    minute), so each patient's access log shows the lists they appeared in."""
    ids = set(patient_ids)
    if not ids:
        return
    seen = set(
        AuditEvent.objects.filter(
            actor=request.user,
            action=AuditEvent.Action.LIST,
            patient_id__in=ids,
            at__gte=timezone.now() - REPEAT_WINDOW,
        ).values_list("patient_id", flat=True)
    )
    audit_per_patient(request=request, action=AuditEvent.Action.LIST, patient_ids=ids - seen)


def audit_per_patient(*, request: HttpRequest, action: str, patient_ids: Iterable[int]) -> None:
    """One event per patient, written in one query, so each patient's access log shows it."""
    address = client_address(request)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=request.user,
            action=action,
            object_type="patient",
            object_id=str(patient_id),
            patient_id=patient_id,
            ip_address=address,
        )
        for patient_id in sorted(set(patient_ids))
    )


def _recently(event: AuditEvent) -> models.QuerySet:
    since = timezone.now() - REPEAT_WINDOW
    if event.action == AuditEvent.Action.DOWNLOAD and event.patient_id is not None:
        return AuditEvent.objects.filter(
            actor=event.actor, action__in=READS, patient_id=event.patient_id, at__gte=since
        )
    return AuditEvent.objects.filter(
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        ip_address=event.ip_address,
        at__gte=since,
    )
