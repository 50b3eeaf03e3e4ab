from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from notifications.api import UploadBatchCloseView
from scans.api import auth, files, views
from scans.dicom.api import ExamDetailView
from scans.reports import api as reports

app_name = "api"

urlpatterns = [
    path("auth/token/", auth.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/revoke/", auth.TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("patients/", views.PatientListView.as_view(), name="patient-list"),
    path("patients/<int:patient_id>/scans/", views.PatientScanListView.as_view(), name="patient-scans"),
    path("exams/<int:exam_id>/", ExamDetailView.as_view(), name="exam-detail"),
    path("exams/<int:exam_id>/report.pdf", reports.ExamReportView.as_view(), name="exam-report"),
    path("scans/<int:scan_id>/", views.ScanDetailView.as_view(), name="scan-detail"),
    path("scans/<int:scan_id>/reviews/", views.ScanReviewListView.as_view(), name="scan-reviews"),
    path("scans/<int:scan_id>/assignment/", views.ScanAssignmentView.as_view(), name="scan-assignment"),
    path("scans/<int:scan_id>/image/", files.ScanImageView.as_view(), name="scan-image"),
    path(
        "scans/<int:scan_id>/predictions/<str:model>/gradcam/",
        files.PredictionMapView.as_view(kind="gradcam"),
        name="prediction-gradcam",
    ),
    path(
        "scans/<int:scan_id>/predictions/<str:model>/saliency/",
        files.PredictionMapView.as_view(kind="saliency"),
        name="prediction-saliency",
    ),
    path("patients/<int:patient_id>/export.csv", reports.PatientExportView.as_view(), name="patient-csv"),
    path("patients/<int:patient_id>/report.pdf", reports.PatientReportView.as_view(), name="patient-report"),
    path("scans/export.csv", reports.ScanListExportView.as_view(), name="scan-list-csv"),
    path("scans/<int:scan_id>/report.pdf", reports.ScanReportView.as_view(), name="scan-report"),
    path("upload-batches/<uuid:key>/close/", UploadBatchCloseView.as_view(), name="upload-batch-close"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
