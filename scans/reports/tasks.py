"""The worker side of reports: renders a report that a request found missing from the cache."""

import logging

from celery import shared_task

from scans.models import Exam, Patient, Scan
from scans.reports import cache, loading, pdf

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def render_report(kind: str, object_id: int) -> None:
    """Safe to run twice: the report is named by its fingerprint, and one that exists is kept."""
    if kind == "scan":
        try:
            scan = loading.scan_for_report(object_id)
        except Scan.DoesNotExist:
            return
        name = cache.report_name(kind=kind, object_id=object_id, fingerprint=loading.scan_fingerprint(scan))
        if not cache.report_exists(name):
            cache.report_store(name=name, pdf=pdf.scan_report_pdf(scan), kind=kind, object_id=object_id)
    elif kind == "patient":
        patient = Patient.objects.select_related("team").filter(pk=object_id).first()
        if patient is None:
            return
        name = cache.report_name(kind=kind, object_id=object_id, fingerprint=loading.patient_fingerprint(patient))
        if not cache.report_exists(name):
            cache.report_store(name=name, pdf=pdf.patient_report_pdf(patient), kind=kind, object_id=object_id)
    elif kind == "exam":
        exam = Exam.objects.select_related("patient", "patient__team").filter(pk=object_id).first()
        if exam is None:
            return
        name = cache.report_name(kind=kind, object_id=object_id, fingerprint=loading.exam_fingerprint(exam))
        if not cache.report_exists(name):
            cache.report_store(name=name, pdf=pdf.exam_report_pdf(exam), kind=kind, object_id=object_id)
    logger.info("%s report %s rendered", kind, object_id)
