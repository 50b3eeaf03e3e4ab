"""The rows a report is made of, loaded the same way by the web (to check the cache) and the
worker (to render): the fingerprint must come out the same on both sides."""

import hashlib

from django.db.models import Count, Max, Prefetch

from scans.final_result import with_final_result
from scans.models import Exam, Patient, Prediction, Review, Scan

# Bump when the report's layout changes: every cached report is then drawn again.
LAYOUT_VERSION = "2"


def scan_for_report(scan_id: int) -> Scan:
    """Not access-checked: the caller has already shown the user may see the scan."""
    return (
        with_final_result(Scan.objects.filter(pk=scan_id))
        .select_related("patient", "patient__team", "explanation", "uploaded_by")
        .prefetch_related(
            Prefetch("predictions", queryset=Prediction.objects.order_by("model_name")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("-created_at", "-pk")),
        )
        .get()
    )


def scan_fingerprint(scan: Scan) -> str:
    """Changes whenever anything the scan's report shows changes."""
    explanation = getattr(scan, "explanation", None)
    latest_review = next(iter(scan.reviews.all()), None)
    parts = [
        LAYOUT_VERSION,
        scan.pk,
        scan.status,
        scan.updated_at.isoformat(),
        *_patient_parts(scan.patient),
        [(p.pk, p.created_at.isoformat(), p.outcome) for p in scan.predictions.all()],
        (explanation.pk, explanation.status, explanation.created_at.isoformat(), len(explanation.text))
        if explanation
        else None,
        latest_review.pk if latest_review else None,
    ]
    return _digest(parts)


def patient_fingerprint(patient: Patient) -> str:
    """Changes when the patient, any of their scans, results, explanations or reviews change."""
    scans = patient.scans.order_by()
    totals = scans.aggregate(n=Count("pk"), updated=Max("updated_at"))
    latest = {
        "predictions": Prediction.objects.filter(scan__patient=patient).aggregate(m=Max("pk"))["m"],
        "reviews": Review.objects.filter(scan__patient=patient).aggregate(m=Max("pk"))["m"],
        "explanations": scans.aggregate(m=Max("explanation__pk"))["m"],
    }
    updated = totals["updated"].isoformat() if totals["updated"] else None
    return _digest([LAYOUT_VERSION, patient.pk, *_patient_parts(patient), totals["n"], updated, latest])


def exam_fingerprint(exam: Exam) -> str:
    """Changes when the patient, the series, any of its slices, their results or reviews change."""
    scans = exam.scans.order_by()
    totals = scans.aggregate(n=Count("pk"), updated=Max("updated_at"))
    latest = {
        "predictions": Prediction.objects.filter(scan__exam=exam).aggregate(n=Count("pk"), m=Max("pk")),
        "reviews": Review.objects.filter(scan__exam=exam).aggregate(m=Max("pk")),
    }
    updated = totals["updated"].isoformat() if totals["updated"] else None
    series = [exam.modality, exam.orientation, exam.series_description, exam.identifiers_differ]
    return _digest(
        [LAYOUT_VERSION, "exam", exam.pk, *_patient_parts(exam.patient), series, totals["n"], updated, latest]
    )


def _patient_parts(patient: Patient) -> list:
    return [patient.display_name, patient.medical_record_number, patient.sex, patient.birth_year]


def _digest(parts: list) -> str:
    # A hash, not the values: the file name must never carry a name or record number.
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]
