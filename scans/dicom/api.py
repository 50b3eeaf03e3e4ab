"""The API's view of an exam (a DICOM series): its slices in order and what they add up to,
so that a client polls one URL for a whole series."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.services import audit_record
from scans.dicom.exams import exam_get, exam_summary


class ExamOutput(serializers.Serializer):
    id = serializers.IntegerField(source="exam.pk")
    patient = serializers.IntegerField(source="exam.patient_id")
    modality = serializers.CharField(source="exam.modality")
    orientation = serializers.CharField(source="exam.orientation")
    series_description = serializers.CharField(source="exam.series_description")
    identifiers_differ = serializers.BooleanField(source="exam.identifiers_differ")
    created_at = serializers.DateTimeField(source="exam.created_at")
    slices = serializers.SerializerMethodField(help_text="Scan ids in the order the slices lie.")
    done = serializers.IntegerField(help_text="Slices with a final result.")
    pending = serializers.IntegerField(help_text="Slices still being classified.")
    by_result = serializers.DictField(child=serializers.IntegerField(), help_text="Final result → slices.")
    most_suspicious = serializers.SerializerMethodField(
        help_text="Scan ids of the slices with a result, most suspicious first."
    )

    def get_slices(self, summary) -> list[int]:
        return [scan.pk for scan in summary.slices]

    def get_most_suspicious(self, summary) -> list[int]:
        return [scan.pk for scan in summary.most_suspicious]


class ExamDetailView(APIView):
    @extend_schema(responses=ExamOutput)
    def get(self, request: Request, exam_id: int) -> Response:
        exam = exam_get(user=request.user, exam_id=exam_id)
        audit_record(request=request, action=AuditEvent.Action.VIEW, obj=exam)
        return Response(ExamOutput(exam_summary(exam=exam)).data)
