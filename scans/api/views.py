"""REST API views: parse, call a selector or service, serialize. Nothing else."""

from django.urls import reverse
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.services import audit_list, audit_record
from idempotency.services import submit_once
from notifications.batches import batch_record
from scans import selectors, services
from scans.api.serializers import (
    AssignmentInput,
    PatientInput,
    PatientOutput,
    ReviewInput,
    ReviewOutput,
    ScanInput,
    ScanOutput,
    SeriesUploadOutput,
)
from scans.uploads import dicom_upload_submit, is_dicom_upload


def _paginated(view: APIView, request: Request, queryset, serializer_class) -> Response:
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(data)


class PatientListView(APIView):
    @extend_schema(responses=PatientOutput(many=True))
    def get(self, request: Request) -> Response:
        patients = selectors.patients_visible_to(request.user).order_by("-created_at", "-pk")
        response = _paginated(self, request, patients, PatientOutput)
        audit_list(request=request, patient_ids=[patient["id"] for patient in response.data["results"]])
        return response

    @extend_schema(request=PatientInput, responses={201: PatientOutput})
    def post(self, request: Request) -> Response:
        given = PatientInput(data=request.data)
        given.is_valid(raise_exception=True)
        fields = dict(given.validated_data)
        team = selectors.team_for_new_patient(user=request.user, team_id=fields.pop("team", None))
        patient = services.patient_create(team=team, created_by=request.user, **fields)
        audit_record(request=request, action=AuditEvent.Action.CREATE, obj=patient)
        return Response(PatientOutput(patient).data, status=status.HTTP_201_CREATED)


class PatientScanListView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=ScanOutput(many=True))
    def get(self, request: Request, patient_id: int) -> Response:
        patient = selectors.patient_get(user=request.user, patient_id=patient_id)
        audit_record(request=request, action=AuditEvent.Action.VIEW, obj=patient)
        return _paginated(self, request, selectors.patient_scans(patient=patient), ScanOutput)

    @extend_schema(
        request={"multipart/form-data": ScanInput},
        responses={202: PolymorphicProxySerializer("ScanUpload", [ScanOutput, SeriesUploadOutput], None)},
    )
    def post(self, request: Request, patient_id: int) -> Response:
        patient = selectors.patient_get(user=request.user, patient_id=patient_id)
        given = ScanInput(data=request.data)
        given.is_valid(raise_exception=True)
        if is_dicom_upload(given.validated_data["image"]):
            return self._post_dicom(request, patient, given.validated_data)
        scan, created = submit_once(
            user=request.user,
            key=request.headers.get("Idempotency-Key", ""),
            patient=patient,
            submit=lambda: services.scan_submit(
                patient=patient,
                uploaded_by=request.user,
                file=given.validated_data["image"],
                model=given.validated_data["model"],
                acquisition_date=given.validated_data["acquisition_date"],
                # In the scan's transaction: never a scan without its audit event.
                on_created=lambda scan: audit_record(request=request, action=AuditEvent.Action.CREATE, obj=scan),
            ),
        )
        if created:
            batch_record(uploaded_by=request.user, scans=[scan], key=given.validated_data["batch"])
        body = ScanOutput(scan, context={"request": request}).data
        headers = {"Location": request.build_absolute_uri(reverse("api:scan-detail", kwargs={"scan_id": scan.pk}))}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)

    def _post_dicom(self, request: Request, patient, fields: dict) -> Response:
        """A DICOM file or zip: one slice answers like a PNG; several, with their exam."""
        upload = dicom_upload_submit(
            patient=patient,
            uploaded_by=request.user,
            file=fields["image"],
            model=fields["model"],
            acquisition_date=fields["acquisition_date"],
            identifiers_differ_ok=fields["identifiers_differ_ok"],
            on_created=lambda obj: audit_record(request=request, action=AuditEvent.Action.CREATE, obj=obj),
            on_identifiers_override=lambda exam: audit_record(
                request=request, action=AuditEvent.Action.IDENTIFIERS_OVERRIDE, obj=exam
            ),
        )
        batch_record(uploaded_by=request.user, scans=upload.scans, key=fields["batch"])
        context = {"request": request}
        if upload.is_series:
            # Read back through the list selector: one query for every slice's final result.
            ids = [scan.pk for scan in upload.scans]
            listed = {scan.pk: scan for scan in selectors.patient_scans(patient=patient).filter(pk__in=ids)}
            body = {
                "exam": upload.exams[0].pk,
                "exams": [exam.pk for exam in upload.exams],
                "scans": ScanOutput([listed[pk] for pk in ids], many=True, context=context).data,
                "skipped": upload.skipped,
            }
            return Response(body, status=status.HTTP_202_ACCEPTED)
        scan = upload.scans[0]
        headers = {"Location": request.build_absolute_uri(reverse("api:scan-detail", kwargs={"scan_id": scan.pk}))}
        return Response(ScanOutput(scan, context=context).data, status=status.HTTP_202_ACCEPTED, headers=headers)


class ScanDetailView(APIView):
    @extend_schema(responses=ScanOutput)
    def get(self, request: Request, scan_id: int) -> Response:
        scan = selectors.scan_get(user=request.user, scan_id=scan_id)
        audit_record(request=request, action=AuditEvent.Action.VIEW, obj=scan)
        return Response(ScanOutput(scan, context={"request": request}).data)


class ScanReviewListView(APIView):
    """A scan's reviews, newest first (the first is in force), and a new one. Reviewers only;
    another team's scan is a 404 like a missing one."""

    def _scan(self, request: Request, scan_id: int):
        scan = selectors.scan_get(user=request.user, scan_id=scan_id)
        if not request.user.is_reviewer:
            raise PermissionDenied("Only staff reviewers can read or write reviews.")
        return scan

    @extend_schema(responses=ReviewOutput(many=True))
    def get(self, request: Request, scan_id: int) -> Response:
        scan = self._scan(request, scan_id)
        audit_record(request=request, action=AuditEvent.Action.VIEW, obj=scan)
        return _paginated(self, request, selectors.scan_reviews(scan=scan), ReviewOutput)

    @extend_schema(request=ReviewInput, responses={201: ReviewOutput})
    def post(self, request: Request, scan_id: int) -> Response:
        scan = self._scan(request, scan_id)
        given = ReviewInput(data=request.data)
        given.is_valid(raise_exception=True)
        review = services.scan_review(scan=scan, reviewer=request.user, **given.validated_data)
        audit_record(request=request, action=AuditEvent.Action.REVIEW, obj=scan)
        return Response(ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class ScanAssignmentView(APIView):
    """Who is to review a scan: one reviewer of its patient's team, or nobody. Reviewers only;
    another team's scan is a 404 like a missing one."""

    @extend_schema(request=AssignmentInput, responses=ScanOutput)
    def post(self, request: Request, scan_id: int) -> Response:
        scan = selectors.scan_get(user=request.user, scan_id=scan_id)
        if not request.user.is_reviewer:
            raise PermissionDenied("Only staff reviewers can assign scans.")
        given = AssignmentInput(data=request.data)
        given.is_valid(raise_exception=True)
        username, assignee = given.validated_data["assignee"], None
        if username is not None:
            assignee = selectors.reviewers_for(scan=scan).filter(username=username).first()
            if assignee is None:
                raise ValidationError({"assignee": [f"'{username}' is not an active reviewer of this patient's team."]})
        # The service updates this very object, so it is answered without reading it again.
        services.scan_assign(scan=scan, assignee=assignee, by=request.user)
        audit_record(request=request, action=AuditEvent.Action.ASSIGN, obj=scan)
        return Response(ScanOutput(scan, context={"request": request}).data)
