"""Renders the PDF reports from Django templates with WeasyPrint. Runs in the worker only
(tasks): importing WeasyPrint and laying out a page takes too long for a request.

Images are embedded as data: URIs read from private storage, never fetched by URL, so the
renderer needs no network and no login."""

import base64
import io

from django.conf import settings
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from scans import selectors
from scans.dicom.exams import exam_summary
from scans.final_result import final_result_of
from scans.ml import registry
from scans.models import Exam, Patient, Scan
from scans.reports.chart import trend_chart_png
from scans.templatetags.portal import RESULT_DISPLAY

# The largest side of an image in a report, in pixels: sharp at print size, small files.
FIGURE_PX = 700
THUMBNAIL_PX = 120
# A patient's report lists at most this many scans; the CSV export has them all.
PATIENT_REPORT_MAX_SCANS = 300
# An exam's report shows this many slices with their images, the most suspicious first; the
# summary counts every slice, and each slice's own report has the rest.
EXAM_REPORT_MAX_SLICES = 60
EXAM_FIGURE_PX = 300


def scan_report_pdf(scan: Scan) -> bytes:
    """`scan` as loaded by loading.scan_for_report."""
    predictions = list(scan.predictions.all())
    shown = scan.status == Scan.Status.DONE
    context = {
        "scan": scan,
        "patient": scan.patient,
        "r": final_result_of(scan),
        "predictions": predictions,
        "latest_review": next(iter(scan.reviews.all()), None),
        "explanation": getattr(scan, "explanation", None),
        "image": _data_uri(scan.image.name, FIGURE_PX) if shown else None,
        "overlays": [(p, _data_uri(p.gradcam.name, FIGURE_PX)) for p in predictions] if shown else [],
        "models": _models(predictions),
        **_common(),
    }
    return _render("reports/scan_report.html", context)


def patient_report_pdf(patient: Patient) -> bytes:
    scans = list(selectors.patient_timeline(patient=patient)[: PATIENT_REPORT_MAX_SCANS + 1])
    chart = selectors.patient_chart_points(patient=patient)
    chart_png = trend_chart_png(chart, names=RESULT_DISPLAY)
    context = {
        "patient": patient,
        "rows": [
            (scan, _data_uri(scan.image.name, THUMBNAIL_PX) if scan.status == Scan.Status.DONE else None)
            for scan in scans[:PATIENT_REPORT_MAX_SCANS]
        ],
        "more": len(scans) > PATIENT_REPORT_MAX_SCANS,
        "scan_count": patient.scans.count(),
        "chart": _png_uri(chart_png) if chart_png else None,
        "unplotted": chart.unplotted,
        **_common(),
    }
    return _render("reports/patient_report.html", context)


def exam_report_pdf(exam: Exam) -> bytes:
    """`exam` with its patient (and team) loaded; the summary is the exam page's (scans.dicom.exams)."""
    summary = exam_summary(exam=exam)
    shown = summary.most_suspicious[:EXAM_REPORT_MAX_SLICES]
    rows = []
    for scan in shown:
        predictions = list(scan.predictions.all())
        first = predictions[0] if predictions else None
        rows.append(
            {
                "scan": scan,
                "predictions": predictions,
                "prediction": first,
                "image": _data_uri(scan.image.name, EXAM_FIGURE_PX),
                "overlay": _data_uri(first.gradcam.name, EXAM_FIGURE_PX) if first and first.gradcam else None,
            }
        )
    predictions = [p for scan in summary.slices for p in scan.predictions.all()]
    first_slice = summary.slices[0] if summary.slices else None
    failed = sum(1 for scan in summary.slices if scan.status == Scan.Status.FAILED)
    context = {
        "exam": exam,
        "patient": exam.patient,
        "summary": summary,
        "count": len(summary.slices),
        "failed": failed,
        "classifying": summary.pending - failed,
        "facts": first_slice.dicom if first_slice else {},
        "rows": rows,
        "more": len(summary.most_suspicious) - len(shown),
        "models": _models(_distinct_models(predictions)),
        **_common(),
    }
    return _render("reports/exam_report.html", context)


def _distinct_models(predictions) -> list:
    """One prediction per model and version, so the model table lists each once."""
    seen = {}
    for p in predictions:
        seen.setdefault((p.model_name, p.model_version), p)
    return [seen[key] for key in sorted(seen)]


def _common() -> dict:
    return {"generated_at": timezone.now(), "portal_url": settings.PORTAL_BASE_URL.rstrip("/")}


def _models(predictions) -> list[dict]:
    models = []
    for p in predictions:
        facts = registry.ARCHITECTURE_FACTS.get(p.model_name)
        models.append(
            {
                "name": p.model_name,
                "display_name": facts.display_name if facts else p.model_name,
                "version": p.model_version[:12],
                "card_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("scans:model-card", args=[p.model_name]),
            }
        )
    return models


def _data_uri(name: str, max_px: int) -> str | None:
    """A stored image, shrunk to `max_px` and inlined; None when it is missing or unreadable
    (a report with a hole beats no report)."""
    if not name or not default_storage.exists(name):
        return None
    try:
        with default_storage.open(name, "rb") as stored, Image.open(stored) as image:
            image = image.convert("RGB")
            image.thumbnail((max_px, max_px))
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=True)
    except OSError:
        return None
    return _png_uri(out.getvalue())


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _render(template: str, context: dict) -> bytes:
    from PIL import ImageFile
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES; left on, every
    # later upload check in this worker would accept truncated images. Ours are never truncated.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    html = render_to_string(template, context)
    # data: URIs only: a report shows what we inlined and fetches nothing, even if a text
    # field held a URL.
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()
