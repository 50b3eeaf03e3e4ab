"""The report and export pages: a PDF (or a page that waits for it) and CSV downloads."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from scans import selectors
from scans.dicom.exams import exam_get
from scans.reports import exports, services
from scans.reports.audit import audit_export, audit_export_many
from scans.reports.responses import pdf_response

# The waiting page reloads itself this many times (about a minute) before it says the worker
# did not answer, instead of reloading forever.
MAX_RELOADS = 30


def _pending(request: HttpRequest, what: str) -> HttpResponse:
    reloads = int(request.GET["reloads"]) if request.GET.get("reloads", "").isdigit() else 0
    given_up = reloads >= MAX_RELOADS
    context = {
        "what": what,
        "retry_after": services.RETRY_AFTER_SECONDS,
        "given_up": given_up,
        "next_query": f"?reloads={reloads + 1}",
    }
    response = render(request, "reports/pending.html", context, status=503 if given_up else 202)
    response["Retry-After"] = str(services.RETRY_AFTER_SECONDS)
    return response


def _report_answer(request: HttpRequest, obj, report, what: str) -> HttpResponse:
    """The PDF once the worker has rendered it (and the download audited), else the waiting page."""
    if not report.ready:
        return _pending(request, what)
    audit_export(request=request, obj=obj)
    return pdf_response(report)


@login_required
def scan_report(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = selectors.scan_get(user=request.user, scan_id=scan_id)
    return _report_answer(request, scan, services.scan_report(scan=scan), f"scan {scan.pk}")


@login_required
def patient_report(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    return _report_answer(request, patient, services.patient_report(patient=patient), "the patient's case history")


@login_required
def exam_report(request: HttpRequest, exam_id: int) -> HttpResponse:
    exam = exam_get(user=request.user, exam_id=exam_id)
    return _report_answer(request, exam, services.exam_report(exam=exam), f"exam {exam.pk}")


@login_required
def scan_list_csv(request: HttpRequest) -> HttpResponse:
    export = exports.scan_list_export(user=request.user, query=request.GET)
    if not isinstance(export, exports.Export):
        return HttpResponse(f"Invalid filters: {export.errors.as_text()}", status=400, content_type="text/plain")
    audit_export_many(request=request, patient_ids=export.patient_ids())
    return export.response()


@login_required
def patient_csv(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    audit_export(request=request, obj=patient)
    return exports.patient_export(patient=patient, query=request.GET).response()
