"""The portal's pages (the API lives under scans.api)."""

from django.urls import include, path

from scans import views
from scans.dicom import views as dicom_views

app_name = "scans"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:patient_id>/edit/", views.patient_edit, name="patient-edit"),
    path("upload/", views.upload, name="upload"),
    path("scans/", views.scan_list, name="scan-list"),
    path("scans/<int:scan_id>/", views.scan_detail, name="scan-detail"),
    path("scans/<int:scan_id>/result/", views.scan_result, name="scan-result"),
    path("scans/<int:scan_id>/review/", views.scan_review, name="scan-review"),
    path("scans/<int:scan_id>/assign/", views.scan_assign, name="scan-assign"),
    path(
        "scans/<int:scan_id>/explanation/regenerate/",
        views.explanation_regenerate,
        name="explanation-regenerate",
    ),
    path("exams/<int:exam_id>/", dicom_views.exam_detail, name="exam-detail"),
    path("review/", views.review_queue, name="review-queue"),
    path("models/<str:name>/", views.model_card, name="model-card"),
    path("", include("scans.reports.urls")),
]
