"""Report and export pages, included by scans.urls; their API twins are in scans.api.urls."""

from django.urls import path

from scans.reports import views

urlpatterns = [
    path("scans/export.csv", views.scan_list_csv, name="scan-list-csv"),
    path("scans/<int:scan_id>/report.pdf", views.scan_report, name="scan-report"),
    path("exams/<int:exam_id>/report.pdf", views.exam_report, name="exam-report"),
    path("patients/<int:patient_id>/report.pdf", views.patient_report, name="patient-report"),
    path("patients/<int:patient_id>/export.csv", views.patient_csv, name="patient-csv"),
]
