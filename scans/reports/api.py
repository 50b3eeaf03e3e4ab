"""The API's reports and exports: the same files as the pages, with a token or a session."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scans import selectors
from scans.dicom.exams import exam_get
from scans.reports import exports, services
from scans.reports.audit import audit_export, audit_export_many
from scans.reports.responses import pdf_response

DEIDENTIFIED = OpenApiParameter(
    "deidentified", bool, description="Drop names, record numbers and patient ids; keep a per-export pseudonym."
)
PENDING = {"status": "pending", "detail": "The report is being prepared: ask again in a few seconds."}


class AnyAccept(BaseContentNegotiation):
    """These views answer with a file whatever the Accept header says (`Accept: application/pdf`
    must not be a 406); the JSON renderer is used only for the 202 and errors."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _pending() -> Response:
    retry = str(services.RETRY_AFTER_SECONDS)
    return Response(PENDING, status=status.HTTP_202_ACCEPTED, headers={"Retry-After": retry})


def _report_answer(request: Request, obj, report):
    """The PDF once the worker has rendered it (and the download audited), else 202."""
    if not report.ready:
        return _pending()
    audit_export(request=request, obj=obj)
    return pdf_response(report)


class ScanReportView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 202: OpenApiTypes.OBJECT})
    def get(self, request: Request, scan_id: int):
        scan = selectors.scan_get(user=request.user, scan_id=scan_id)
        return _report_answer(request, scan, services.scan_report(scan=scan))


class PatientReportView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 202: OpenApiTypes.OBJECT})
    def get(self, request: Request, patient_id: int):
        patient = selectors.patient_get(user=request.user, patient_id=patient_id)
        return _report_answer(request, patient, services.patient_report(patient=patient))


class ExamReportView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 202: OpenApiTypes.OBJECT})
    def get(self, request: Request, exam_id: int):
        exam = exam_get(user=request.user, exam_id=exam_id)
        return _report_answer(request, exam, services.exam_report(exam=exam))


class ScanListExportView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(parameters=[DEIDENTIFIED], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request):
        export = exports.scan_list_export(user=request.user, query=request.query_params)
        if not isinstance(export, exports.Export):
            raise ValidationError(export.errors)
        audit_export_many(request=request, patient_ids=export.patient_ids())
        return export.response()


class PatientExportView(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(parameters=[DEIDENTIFIED], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, patient_id: int):
        patient = selectors.patient_get(user=request.user, patient_id=patient_id)
        audit_export(request=request, obj=patient)
        return exports.patient_export(patient=patient, query=request.query_params).response()
