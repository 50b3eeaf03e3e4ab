"""The exam page: one DICOM series, its summary and a slice browser."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.models import AuditEvent
from audit.services import audit_record
from scans.dicom.exams import exam_get, exam_summary


@login_required
def exam_detail(request: HttpRequest, exam_id: int) -> HttpResponse:
    exam = exam_get(user=request.user, exam_id=exam_id)
    audit_record(request=request, action=AuditEvent.Action.VIEW, obj=exam)
    return render(request, "scans/exam_detail.html", {"exam": exam, "summary": exam_summary(exam=exam)})
