"""Every report and export is in the audit trail, under each patient whose data it holds."""

from collections.abc import Iterable

from django.db.models import Model
from django.http import HttpRequest

from audit.models import AuditEvent
from audit.services import audit_per_patient, audit_record


def audit_export(*, request: HttpRequest, obj: Model) -> None:
    """A scan's, an exam's or a patient's report or export."""
    audit_record(request=request, action=AuditEvent.Action.EXPORT, obj=obj)


def audit_export_many(*, request: HttpRequest, patient_ids: Iterable[int]) -> None:
    """An export of a list: one event per patient in it, so each patient's access log shows it.
    Never skipped as a repeat: an export is a copy leaving the portal, each one counts."""
    audit_per_patient(request=request, action=AuditEvent.Action.EXPORT, patient_ids=patient_ids)
