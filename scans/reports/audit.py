"""Every report and export is in the audit trail, under each patient whose data it holds."""

from collections.abc import Iterable

from django.db.models import Model
from django.http import HttpRequest

from audit.client import client_address
from audit.models import AuditEvent
from audit.services import audit_record


def audit_export(*, request: HttpRequest, obj: Model) -> None:
    """A scan's, an exam's or a patient's report or export."""
    audit_record(request=request, action=AuditEvent.Action.EXPORT, obj=obj)


def audit_export_many(*, request: HttpRequest, patient_ids: Iterable[int]) -> None:
    """An export of a list: one event per patient in it, so each patient's access log shows it.
    Never skipped as a repeat: an export is a copy leaving the portal, each one counts."""
    address = client_address(request)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=request.user,
            action=AuditEvent.Action.EXPORT,
            object_type="patient",
            object_id=str(patient_id),
            patient_id=patient_id,
            ip_address=address,
        )
        for patient_id in sorted(set(patient_ids))
    )
