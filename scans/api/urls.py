from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from scans.api import auth, files, views

app_name = "api"

urlpatterns = [
    path("auth/token/", auth.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/revoke/", auth.TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("patients/", views.PatientListView.as_view(), name="patient-list"),
    path("patients/<int:patient_id>/scans/", views.PatientScanListView.as_view(), name="patient-scans"),
    path("scans/<int:scan_id>/", views.ScanDetailView.as_view(), name="scan-detail"),
    path("scans/<int:scan_id>/reviews/", views.ScanReviewListView.as_view(), name="scan-reviews"),
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
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
