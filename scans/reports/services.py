"""A report for a request: the cached PDF when it is there, else the worker is asked for it."""

import logging
from dataclasses import dataclass

from kombu.exceptions import OperationalError

from scans.models import Exam, Patient, Scan
from scans.reports import cache, loading

logger = logging.getLogger(__name__)

# What the pending page and the API's 202 tell the client to wait before asking again.
RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True)
class Report:
    name: str | None  # the stored PDF, or None while the worker renders it
    filename: str

    @property
    def ready(self) -> bool:
        return self.name is not None


def scan_report(*, scan: Scan) -> Report:
    """`scan` must already have passed the visibility selector."""
    fingerprint = loading.scan_fingerprint(loading.scan_for_report(scan.pk))
    return _ready_or_queued(kind="scan", object_id=scan.pk, fingerprint=fingerprint)


def patient_report(*, patient: Patient) -> Report:
    """`patient` must already have passed the visibility selector."""
    return _ready_or_queued(kind="patient", object_id=patient.pk, fingerprint=loading.patient_fingerprint(patient))


def exam_report(*, exam: Exam) -> Report:
    """`exam` must already have passed the visibility selector (scans.dicom.exams.exam_get)."""
    return _ready_or_queued(kind="exam", object_id=exam.pk, fingerprint=loading.exam_fingerprint(exam))


def _ready_or_queued(*, kind: str, object_id: int, fingerprint: str) -> Report:
    name = cache.report_name(kind=kind, object_id=object_id, fingerprint=fingerprint)
    filename = f"{kind}-{object_id}-report.pdf"
    if cache.report_exists(name):
        return Report(name=name, filename=filename)
    from scans.reports.tasks import render_report

    try:
        render_report.delay(kind, object_id)
    except OperationalError:
        # The broker is away: the client asks again and we send it again then.
        logger.warning("broker unavailable: the %s report %s waits for the next request", kind, object_id)
    # A worker running tasks eagerly (or very fast) may have stored it already.
    return Report(name=name if cache.report_exists(name) else None, filename=filename)
